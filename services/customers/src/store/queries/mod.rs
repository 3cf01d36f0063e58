//! The read queries of lists, searches and duplicates: each is one ordered index range (the
//! indexes are in migration `m20261201_000001`; the plans are asserted in the API tests).
mod duplicates;
mod list;
mod search;

pub use duplicates::{DuplicateCursor, DuplicateKeys, duplicate_page};
pub use list::{Cursor, ListQuery, cursor_of, list, list_select};
pub use search::{SearchCursor, search_contact, search_select};
