//! See `service` (module docs).
