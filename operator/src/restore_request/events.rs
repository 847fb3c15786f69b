//! The Kubernetes Events of a RestoreRequest, from the notes of a step (pure).

use kube::runtime::events::{Event, EventType};

use super::step::{Note, NoteType};
use crate::runtime::events::truncate;

/// The Event of a note.
pub fn event(note: &Note) -> Event {
    Event {
        type_: match note.type_ {
            NoteType::Normal => EventType::Normal,
            NoteType::Warning => EventType::Warning,
        },
        reason: note.reason.clone(),
        note: Some(truncate(note.message.clone())),
        action: "Restore".to_string(),
        secondary: None,
    }
}
