//! Retention settings shared by `prune` (which applies them) and `list` (which shows
//! the tiers that would keep each backup).

use chrono_tz::Tz;
use clap::Args;
use tidemark_crd::contract::env as var;

use crate::error::{Error, Result};
use crate::retention::RetentionPolicy;

/// Grandfather-father-son counts and the time zone their periods are computed in.
#[derive(Debug, Clone, Args)]
pub struct RetentionArgs {
    /// Keep the newest backup of each of the last N local hours that have one.
    #[arg(long, env = var::KEEP_HOURLY, default_value_t = 0)]
    pub keep_hourly: u32,
    /// Keep the newest backup of each of the last N local days that have one.
    #[arg(long, env = var::KEEP_DAILY, default_value_t = 0)]
    pub keep_daily: u32,
    /// Keep the newest backup of each of the last N ISO weeks that have one.
    #[arg(long, env = var::KEEP_WEEKLY, default_value_t = 0)]
    pub keep_weekly: u32,
    /// Keep the newest backup of each of the last N months that have one.
    #[arg(long, env = var::KEEP_MONTHLY, default_value_t = 0)]
    pub keep_monthly: u32,
    /// Keep the newest backup of each of the last N years that have one.
    #[arg(long, env = var::KEEP_YEARLY, default_value_t = 0)]
    pub keep_yearly: u32,
    /// IANA time zone the periods are computed in (e.g. `Europe/Berlin`).
    #[arg(long, env = var::TIME_ZONE, default_value = "UTC")]
    pub time_zone: String,
}

impl RetentionArgs {
    /// The counts as a policy.
    pub fn policy(&self) -> RetentionPolicy {
        RetentionPolicy {
            hourly: self.keep_hourly,
            daily: self.keep_daily,
            weekly: self.keep_weekly,
            monthly: self.keep_monthly,
            yearly: self.keep_yearly,
        }
    }

    /// Whether any tier has a count.
    pub fn any(&self) -> bool {
        self.policy() != RetentionPolicy::default()
    }

    /// The time zone, validated.
    pub fn tz(&self) -> Result<Tz> {
        let name = self.time_zone.trim();
        let name = if name.is_empty() { "UTC" } else { name };
        name.parse::<Tz>().map_err(|_| {
            Error::config(format!(
                "TIDEMARK_TIME_ZONE {name:?} is not an IANA time zone (e.g. Europe/Berlin, UTC)"
            ))
        })
    }
}
