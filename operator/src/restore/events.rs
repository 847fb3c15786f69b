//! The Kubernetes Events of a RestoreRequest, from the notes of a step (pure).

use kube::runtime::events::{Event, EventType};

use super::step::{Note, NoteType};

/// The API server limits event notes to 1 KiB.
const MAX_NOTE: usize = 1000;

fn truncate(mut s: String) -> String {
    if s.len() > MAX_NOTE {
        let mut end = MAX_NOTE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

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
