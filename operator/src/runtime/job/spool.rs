//! The parallel restore's settings in a runner Job (pure): the parallelism (explicit, or
//! the Job's CPU request rounded up, at least 2) and, when it is 2 or more, the spool
//! `emptyDir` the verified archive is written to, with its `sizeLimit`.

use k8s_openapi::api::core::v1::{EnvVar, Volume, VolumeMount};
use tidemark_crd::common::JobTemplate;
use tidemark_crd::contract::env as var;

use super::env::value;
use super::volumes::scratch;

/// Where the spool `emptyDir` is mounted (the root filesystem is read-only).
pub const SPOOL_PATH: &str = "/var/lib/tidemark/spool";
/// `sizeLimit` of the spool when the spec names none.
pub const DEFAULT_SPOOL_SIZE: &str = "10Gi";
/// Parallelism when the Job has no CPU request (and the least a default gives).
pub const MIN_DEFAULT_PARALLELISM: u32 = 2;
/// The CRD's upper bound.
pub const MAX_PARALLELISM: u32 = 64;

/// The parallelism of a restore: `explicit`, else the CPU request rounded up, at least 2.
pub fn parallelism(explicit: Option<u32>, template: &JobTemplate) -> u32 {
    if let Some(n) = explicit {
        return n.clamp(1, MAX_PARALLELISM);
    }
    template
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("cpu"))
        .and_then(|q| cpu_cores(&q.0))
        .unwrap_or(MIN_DEFAULT_PARALLELISM)
        .clamp(MIN_DEFAULT_PARALLELISM, MAX_PARALLELISM)
}

/// Whole cores of a CPU quantity, rounded up (`500m` → 1, `1.5` → 2, `4` → 4).
fn cpu_cores(q: &str) -> Option<u32> {
    let q = q.trim();
    let cores = match q.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok()? / 1000.0,
        None => q.parse::<f64>().ok()?,
    };
    if !cores.is_finite() || cores <= 0.0 {
        return None;
    }
    let up = cores.ceil();
    (up <= f64::from(MAX_PARALLELISM))
        .then_some(up as u32)
        .or(Some(MAX_PARALLELISM))
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
    use k8s_openapi::api::core::v1::ResourceRequirements;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn with_cpu(cpu: &str) -> JobTemplate {
        JobTemplate {
            resources: Some(ResourceRequirements {
                requests: Some([("cpu".to_string(), Quantity(cpu.to_string()))].into()),
                ..ResourceRequirements::default()
            }),
            ..JobTemplate::default()
        }
    }

    #[test]
    fn the_default_follows_the_cpu_request_and_is_at_least_two() {
        assert_eq!(parallelism(None, &JobTemplate::default()), 2);
        assert_eq!(parallelism(None, &with_cpu("500m")), 2);
        assert_eq!(parallelism(None, &with_cpu("2500m")), 3);
        assert_eq!(parallelism(None, &with_cpu("4")), 4);
        assert_eq!(parallelism(None, &with_cpu("1.5")), 2);
        assert_eq!(parallelism(None, &with_cpu("1000")), 64);
        assert_eq!(parallelism(None, &with_cpu("nonsense")), 2);
        assert_eq!(parallelism(Some(1), &with_cpu("8")), 1);
        assert_eq!(parallelism(Some(6), &JobTemplate::default()), 6);
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
