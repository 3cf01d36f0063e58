//! The rules of one send (helper H2 fills this module).
