//! The parallel restore's settings in a runner Job (pure): the parallelism (explicit,
//! otherwise one) and, when it is 2 or more, the spool `emptyDir` the verified archive
//! is written to, with its `sizeLimit`.

use k8s_openapi::api::core::v1::{EnvVar, Volume, VolumeMount};
use tidemark_crd::contract::env as var;

use super::env::value;
use super::volumes::scratch;

/// Where the spool `emptyDir` is mounted (the root filesystem is read-only).
pub const SPOOL_PATH: &str = "/var/lib/tidemark/spool";
/// `sizeLimit` of the spool when the spec names none.
pub const DEFAULT_SPOOL_SIZE: &str = "10Gi";
/// The CRD's upper bound.
pub const MAX_PARALLELISM: u32 = 64;

/// The parallelism of a restore: `explicit`, else 1 (the single stream in one
/// transaction). The parallel path is opt-in until it carries what the single stream
/// keeps (the database's own settings, owner and grants when it replaces a database).
pub fn parallelism(explicit: Option<u32>) -> u32 {
    explicit.map_or(1, |n| n.clamp(1, MAX_PARALLELISM))
}

/// The runner's environment for `parallelism`, and the spool volume when it is 2 or
/// more and the restore is a full one (the only kind that runs in parallel).
pub fn settings(
    parallelism: u32,
    full: bool,
    size_limit: Option<&str>,
) -> (Vec<EnvVar>, Vec<(Volume, VolumeMount)>) {
    let mut env = vec![value(var::RESTORE_PARALLELISM, parallelism.to_string())];
    let mut mounts = Vec::new();
    if parallelism >= 2 && full {
        env.push(value(var::RESTORE_SPOOL_DIR, SPOOL_PATH));
        mounts.push(scratch(
            "spool",
            SPOOL_PATH,
            size_limit.unwrap_or(DEFAULT_SPOOL_SIZE),
        ));
    }
    (env, mounts)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_single_stream_is_the_default_and_explicit_values_are_bounded() {
        assert_eq!(parallelism(None), 1);
        assert_eq!(parallelism(Some(1)), 1);
        assert_eq!(parallelism(Some(6)), 6);
        assert_eq!(parallelism(Some(0)), 1);
        assert_eq!(parallelism(Some(1000)), MAX_PARALLELISM);
    }

    #[test]
    fn a_parallel_full_restore_gets_the_spool() {
        let (env, mounts) = settings(3, true, None);
        let names: Vec<_> = env.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, [var::RESTORE_PARALLELISM, var::RESTORE_SPOOL_DIR]);
        assert_eq!(env[0].value.as_deref(), Some("3"));
        assert_eq!(mounts.len(), 1);
        let (vol, mount) = &mounts[0];
        assert_eq!(mount.mount_path, SPOOL_PATH);
        let size = vol.empty_dir.as_ref().unwrap().size_limit.as_ref().unwrap();
        assert_eq!(size.0, DEFAULT_SPOOL_SIZE);
        let (_, mounts) = settings(3, true, Some("50Gi"));
        let size = mounts[0].0.empty_dir.as_ref().unwrap().size_limit.clone();
        assert_eq!(size.unwrap().0, "50Gi");
        // One stream, or not a full restore: no spool.
        assert!(settings(1, true, None).1.is_empty());
        assert!(settings(4, false, None).1.is_empty());
        assert_eq!(settings(4, false, None).0.len(), 1);
    }
}
