//! Bad input is INVALID_ARGUMENT naming every bad field (`google.rpc.BadRequest`), and
//! writes nothing. (Filled as the RPCs land.)
