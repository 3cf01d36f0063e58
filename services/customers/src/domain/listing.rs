//! How customer lists are ordered, and which orders a filter allows.

/// The field a customer list is sorted by (ties break on the id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderField {
    CreateTime,
    UpdateTime,
    DisplayName,
}

/// A sort field and direction (`true`: descending).
pub type ListOrder = (OrderField, bool);

/// The order a list is read in: the requested one, or, for an incremental read (an
/// `updated_since` filter), the update-time order. An incremental read is a range of that
/// order; in any other it would walk the whole table to find the recent rows, so it is
/// refused.
pub fn list_order(
    requested: Option<ListOrder>,
    incremental: bool,
) -> Result<Option<ListOrder>, &'static str> {
    match requested {
        None if incremental => Ok(Some((OrderField::UpdateTime, false))),
        Some((OrderField::UpdateTime, _)) | None => Ok(requested),
        Some(_) if incremental => {
            Err("must be update_time (or update_time desc) with updated_since")
        }
        Some(_) => Ok(requested),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderField::*;

    #[test]
    fn incremental_reads_follow_the_update_time() {
        let refused = Err("must be update_time (or update_time desc) with updated_since");
        let table = [
            (None, false, Ok(None)),
            (
                Some((DisplayName, true)),
                false,
                Ok(Some((DisplayName, true))),
            ),
            (
                Some((CreateTime, false)),
                false,
                Ok(Some((CreateTime, false))),
            ),
            (None, true, Ok(Some((UpdateTime, false)))),
            (Some((UpdateTime, true)), true, Ok(Some((UpdateTime, true)))),
            (
                Some((UpdateTime, false)),
                true,
                Ok(Some((UpdateTime, false))),
            ),
            (Some((CreateTime, false)), true, refused),
            (Some((DisplayName, true)), true, refused),
        ];
        for (requested, incremental, want) in table {
            assert_eq!(
                list_order(requested, incremental),
                want,
                "{requested:?} incremental {incremental}"
            );
        }
    }
}
