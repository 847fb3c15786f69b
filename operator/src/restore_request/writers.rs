//! The writer phases: StoppingWriters (replica counts remembered first, then scaled to
//! zero and waited for) and RestartingWriters (back to the remembered counts, after any
//! running Job has stopped, before the request ends either way).

use tidemark_crd::restore_request::{RestorePhase, WorkloadKind, WriterState};

use super::decide::{SOON, WRITER_POLL, commit, fail, next, succeeded};
use super::observed::{Inputs, WorkloadState};
use super::progress::{enter, finish, recorded_failure};
use super::step::{Action, Note, Step};

fn kind_name(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "Deployment",
        WorkloadKind::StatefulSet => "StatefulSet",
    }
}

pub(super) fn stopping_writers(i: &Inputs<'_>) -> Step {
    let mut s = next(i);
    if i.spec.stop_writers.is_empty() {
        enter(&mut s, RestorePhase::Restoring, i.now);
        return commit(i, s, Vec::new(), Vec::new(), Some(SOON));
    }
    if s.writers.is_empty() {
        // Remember every replica count first; nothing is scaled before all exist.
        let mut saved = Vec::new();
        for (idx, w) in i.spec.stop_writers.iter().enumerate() {
            match i.writer(w.kind, &w.name).map(|o| o.state) {
                Some(WorkloadState::Present { replicas, .. }) => saved.push(WriterState {
                    kind: w.kind,
                    name: w.name.clone(),
                    previous_replicas: replicas,
                    restarted: false,
                }),
                None | Some(WorkloadState::Missing) => {
                    return fail(
                        i,
                        s,
                        "WriterNotFound",
                        format!(
                            "stopWriters[{idx}]: {} {:?} not found in namespace {:?}",
                            kind_name(w.kind),
                            w.name,
                            i.namespace
                        ),
                    );
                }
            }
        }
        let listed: Vec<String> = saved
            .iter()
            .map(|w| {
                format!(
                    "{} {} ({} replicas)",
                    kind_name(w.kind),
                    w.name,
                    w.previous_replicas
                )
            })
            .collect();
        let message = format!("scaling writers to zero: {}", listed.join(", "));
        let actions = saved
            .iter()
            .map(|w| Action::Scale {
                kind: w.kind,
                name: w.name.clone(),
                replicas: 0,
            })
            .collect();
        s.writers = saved;
        s.reason = Some("StoppingWriters".into());
        s.message = Some(message.clone());
        return commit(
            i,
            s,
            actions,
            vec![Note::normal("StoppingWriters", message)],
            Some(WRITER_POLL),
        );
    }
    let mut actions = Vec::new();
    let mut waiting = Vec::new();
    for w in &s.writers {
        if let Some(WorkloadState::Present { replicas, pods }) =
            i.writer(w.kind, &w.name).map(|o| o.state)
        {
            if replicas != 0 {
                actions.push(Action::Scale {
                    kind: w.kind,
                    name: w.name.clone(),
                    replicas: 0,
                });
            }
            if replicas != 0 || pods > 0 {
                waiting.push(format!("{} {}", kind_name(w.kind), w.name));
            }
        }
    }
    if waiting.is_empty() {
        s.reason = Some("WritersStopped".into());
        s.message = Some("writers stopped; restoring".into());
        enter(&mut s, RestorePhase::Restoring, i.now);
        return commit(i, s, actions, Vec::new(), Some(SOON));
    }
    s.message = Some(format!(
        "waiting for the pods of {} to stop",
        waiting.join(", ")
    ));
    commit(i, s, actions, Vec::new(), Some(WRITER_POLL))
}

pub(super) fn restarting_writers(i: &Inputs<'_>) -> Step {
    let mut s = next(i);
    // A restore that is still running (being deleted) must end before writers return.
    let running: Vec<&str> = i
        .jobs
        .iter()
        .filter(|j| !j.state.is_finished())
        .map(|j| j.name.as_str())
        .collect();
    if !running.is_empty() {
        let actions = running
            .iter()
            .map(|n| Action::DeleteJob {
                name: (*n).to_string(),
            })
            .collect();
        s.message = Some(format!(
            "waiting for Job {} to stop before restarting writers",
            running.join(", ")
        ));
        return commit(i, s, actions, Vec::new(), Some(WRITER_POLL));
    }
    let mut actions = Vec::new();
    let mut missing = Vec::new();
    for w in s.writers.iter_mut().filter(|w| !w.restarted) {
        match i.writer(w.kind, &w.name).map(|o| o.state) {
            Some(WorkloadState::Present { replicas, .. }) => {
                w.restarted = replicas == w.previous_replicas;
                if !w.restarted {
                    actions.push(Action::Scale {
                        kind: w.kind,
                        name: w.name.clone(),
                        replicas: w.previous_replicas,
                    });
                }
            }
            None | Some(WorkloadState::Missing) => missing.push(format!(
                "{} {} ({} replicas)",
                kind_name(w.kind),
                w.name,
                w.previous_replicas
            )),
        }
    }
    if !actions.is_empty() {
        // Scaling up is confirmed by the next read of `spec.replicas`.
        return commit(i, s, actions, Vec::new(), Some(SOON));
    }
    let mut events = Vec::new();
    if let Some(failure) = recorded_failure(&s).cloned() {
        finish(&mut s, RestorePhase::Failed, i.now);
        let mut message = failure.message.clone();
        message.push_str("; writers restored to their previous replica counts");
        if !missing.is_empty() {
            message.push_str(&format!(
                " (not restarted because they no longer exist: {})",
                missing.join(", ")
            ));
        }
        s.reason = Some(failure.reason.clone());
        s.message = Some(message.clone());
        events.push(Note::normal("WritersRestarted", message));
    } else {
        events.push(succeeded(i, &mut s, &missing));
    }
    commit(i, s, Vec::new(), events, None)
}
