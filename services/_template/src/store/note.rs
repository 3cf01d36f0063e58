//! The `notes` table (schema in `migration`) and its rows <-> domain notes.
use crate::domain::{Note, NoteFields, NoteId};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub title: String,
    pub body: String,
    pub revision: i64,
    pub create_time: ChronoDateTimeUtc,
    pub update_time: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for Note {
    fn from(row: Model) -> Self {
        Self {
            id: NoteId(row.id),
            fields: NoteFields {
                title: row.title,
                body: row.body,
            },
            revision: row.revision,
            create_time: row.create_time,
            update_time: row.update_time,
        }
    }
}

impl From<&Note> for ActiveModel {
    fn from(n: &Note) -> Self {
        Self {
            id: Set(n.id.0),
            title: Set(n.fields.title.clone()),
            body: Set(n.fields.body.clone()),
            revision: Set(n.revision),
            create_time: Set(n.create_time),
            update_time: Set(n.update_time),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_survives_its_row() {
        let note = Note::new(
            NoteFields {
                title: "t".into(),
                body: "b".into(),
            },
            crate::domain::now(),
        );
        let row = ActiveModel::from(&note);
        let model = Model {
            id: row.id.unwrap(),
            title: row.title.unwrap(),
            body: row.body.unwrap(),
            revision: row.revision.unwrap(),
            create_time: row.create_time.unwrap(),
            update_time: row.update_time.unwrap(),
        };
        assert_eq!(Note::from(model), note);
    }
}
