//! See `store` (module docs).
