//! `--from`, `--to`, `--zone`: the search or export window of `find-time` and `export`.

use clap::Args;
use entente_client::proto as pb;
use entente_client::timearg;

use super::Failure;

/// A time window from flags.
#[derive(Debug, Args)]
pub struct WindowArgs {
    /// Window start: a date, a local time, or a date range such as 2024-10-22..2024-10-24
    /// alone.
    #[arg(long)]
    pub from: Option<String>,
    /// Window end (exclusive).
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// Zone of --from/--to when they are local (default: the --tz zone, else UTC).
    #[arg(long)]
    pub zone: Option<String>,
}

impl WindowArgs {
    /// The window, `None` without --from; `tz` is the global --tz ("" when unset).
    pub fn window(&self, tz: &str) -> Result<Option<pb::TimeWindow>, Failure> {
        let zone = self.zone.as_deref().or((!tz.is_empty()).then_some(tz));
        match &self.from {
            Some(from) => {
                timearg::window(Some(from), self.to.as_deref(), zone).map_err(Failure::Usage)
            }
            None => Ok(None),
        }
    }
}
