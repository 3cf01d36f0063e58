//! Message templates (helper H2 fills this module).
