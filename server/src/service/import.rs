//! Importing an iCalendar file: every VEVENT read against the state, written (or, in a dry
//! run, judged) in file order, parents first, each as its own write; on the heavy pool,
//! one at a time per office, stopping when its caller goes away.

use std::collections::HashSet;

use calcard::icalendar::ICalendarComponent;

use crate::auth::Principal;
use crate::conflicts::{Conflict, Severity};
use crate::directory::FieldMask;
use crate::error::{Error, Result};
use crate::events::EventStatus;
use crate::events::WriteOptions;
use crate::ics::import::*;
use crate::scheduler::Scheduler;

impl Scheduler {
    /// Imports the VEVENTs of `ics`, each as its own write, in file order (a VEVENT on the
    /// sidelines of a later one in the file waits for it).
    ///
    /// The caller's office has one heavy request at a time ([`crate::work::Pool`]); the
    /// parse runs on the pool, and so does a dry run whole; a real import's writes yield
    /// every few events. Either way an import dropped by its caller (or the request
    /// timeout) stops within a few events.
    pub async fn import_calendar(
        &self,
        who: &Principal,
        ics: &str,
        opts: Options,
    ) -> Result<(Vec<ImportResult>, u64)> {
        crate::policy::require_writer(who)?;
        let _turn = self.pool().turn(&who.office).await?;
        let (s, w, ics, o) = (self.clone(), who.clone(), ics.to_string(), opts.clone());
        let (reads, order) = self
            .pool()
            .work(move |stop| s.read_calendar(&w, &ics, &o, stop))
            .await?;
        if opts.dry_run {
            // A dry run writes nothing, so nothing in it waits: it runs whole on the pool
            // (off the async workers), checking its stop every few events.
            let handle = tokio::runtime::Handle::current();
            let (s, w) = (self.clone(), who.clone());
            let results = self
                .pool()
                .work(move |stop| {
                    handle.block_on(s.import_in_order(&w, reads, order, &opts, Some(stop)))
                })
                .await?;
            return Ok((results, self.revision()));
        }
        let results = self.import_in_order(who, reads, order, &opts, None).await?;
        Ok((results, self.revision()))
    }

    /// Imports `reads` in `order`; every 32 events, gives up if `stop` is set or (without
    /// one) yields, so that an import whose caller went away ends at the next event.
    async fn import_in_order(
        &self,
        who: &Principal,
        reads: Vec<Read>,
        order: Vec<usize>,
        opts: &Options,
        stop: Option<&crate::stop::Stop>,
    ) -> Result<Vec<ImportResult>> {
        let mut results: Vec<Option<ImportResult>> = vec![None; reads.len()];
        let mut dry = opts.dry_run.then(DryRun::default);
        for (n, i) in order.into_iter().enumerate() {
            if n % 32 == 31 {
                match stop {
                    Some(stop) => stop.check()?,
                    None => tokio::task::yield_now().await,
                }
            }
            let mut r = reads[i].clone();
            // A dry run writes no parent, so sidelines of a parent the file brings are
            // checked without it (the one check a dry run cannot make as the write would:
            // that they fit their new parent's time and city).
            if let Some(dry) = &mut dry
                && let Ok(input) = &mut r.input
                && !input.parent_event_id.is_empty()
                && self.get_event(who, &input.parent_event_id).is_err()
            {
                let parent = std::mem::take(&mut input.parent_event_id);
                dry.parents.insert(input.id.clone(), parent);
            }
            results[i] = Some(self.import_one(who, r, opts, dry.as_mut()).await?);
        }
        Ok(results.into_iter().flatten().collect())
    }

    /// Parses `ics` and reads each VEVENT against the state: what to write, and in which
    /// order.
    fn read_calendar(
        &self,
        who: &Principal,
        ics: &str,
        opts: &Options,
        stop: &crate::stop::Stop,
    ) -> Result<(Vec<Read>, Vec<usize>)> {
        let cal = crate::ics::parse(ics, "ics")?;
        stop.check()?;
        let domain = self.settings().ics_uid_domain.clone();
        let vevents: Vec<&ICalendarComponent> = crate::ics::vevents(&cal).collect();
        // The ids the file itself brings: a VEVENT may be on the sidelines of another one
        // in the same file (RELATED-TO), which then has to be written first.
        let in_file: HashSet<String> = vevents
            .iter()
            .filter_map(|c| c.uid())
            .map(|u| event_id(u, &domain))
            .collect();
        let resolver = cal.build_owned_tz_resolver();
        let mut reads = Vec::with_capacity(vevents.len());
        // In pieces, so that a writer waits for one piece at most, not the whole file.
        for chunk in vevents.chunks(256) {
            stop.check()?;
            self.read(who, |view| {
                let cx = Ctx {
                    st: view.state(),
                    resolver: &resolver,
                    opts,
                    domain: &domain,
                    in_file: &in_file,
                };
                reads.extend(chunk.iter().map(|c| read_vevent(&cx, c)));
            });
        }
        let order = parents_first(&reads);
        Ok((reads, order))
    }

    async fn import_one(
        &self,
        who: &Principal,
        r: Read,
        opts: &Options,
        mut dry: Option<&mut DryRun>,
    ) -> Result<ImportResult> {
        let mut out = ImportResult {
            uid: r.uid,
            summary: r.summary,
            outcome: Outcome::Refused,
            event_id: String::new(),
            reason: String::new(),
            conflicts: Vec::new(),
        };
        let mut input = match r.input {
            Ok(i) => i,
            Err(reason) => {
                out.reason = reason;
                return Ok(out);
            }
        };
        // In a dry run, what an earlier VEVENT of the file would have written comes first.
        let prior = dry
            .as_deref()
            .and_then(|d| d.events.get(input.id.as_str()).cloned());
        let existing = match &prior {
            Some(p) => Some(p.clone()),
            None => match self.get_event(who, &input.id) {
                Ok(e) => Some(e),
                Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
        };
        // An event imported before keeps its status unless the request names one: a
        // re-import of a file must not demote what the office has since confirmed.
        if let (Some(e), None) = (&existing, opts.status) {
            input.status = Some(e.status);
        }
        if r.cancelled {
            return Ok(match existing {
                Some(e) if e.status == EventStatus::Cancelled => ImportResult {
                    outcome: Outcome::Unchanged,
                    event_id: e.id.to_string(),
                    ..out
                },
                Some(e) if opts.dry_run => ImportResult {
                    outcome: Outcome::Updated,
                    event_id: e.id.to_string(),
                    ..out
                },
                Some(e) => match self
                    .cancel_event(
                        who,
                        &e.id,
                        "",
                        crate::events::Cancel {
                            reason: "cancelled in an imported calendar".into(),
                            actor: opts.actor.clone(),
                            ..Default::default()
                        },
                    )
                    .await
                {
                    Ok(_) => ImportResult {
                        outcome: Outcome::Updated,
                        event_id: e.id.to_string(),
                        ..out
                    },
                    Err(err) => refused(out, &err),
                },
                None => ImportResult {
                    reason: "cancelled in the file, and not imported before: nothing to do".into(),
                    ..out
                },
            });
        }
        let wopts = WriteOptions {
            allow_conflicts: opts.allow_conflicts,
            actor: opts.actor.clone(),
            time: crate::events::TimeOptions {
                disambiguation: opts.disambiguation,
                ..Default::default()
            },
            ..Default::default()
        };
        // An update changes what a VEVENT says and nothing else: the host country, the
        // forum (unless the file names one) and the visibility (unless asked) stay as the
        // office set them.
        let mask = match &existing {
            None => FieldMask::All,
            Some(_) => update_mask(&input, opts),
        };
        let checked = self.check_conflicts_after(who, &input, &mask, &wopts, prior.as_ref());
        let (built, mut report) = match checked {
            Ok(c) => c,
            Err(err) => return Ok(refused(out, &err)),
        };
        if let Some(dry) = dry.as_deref_mut() {
            // What the write would refuse before weighing conflicts; then the conflicts
            // with what the file's earlier VEVENTs would have written.
            let stored = if prior.is_some() {
                None
            } else {
                existing.as_deref()
            };
            if prior.is_none()
                && let Err(err) = self.may_write_event(who, stored, &built)
            {
                return Ok(refused(out, &err));
            }
            report
                .conflicts
                .extend(dry.conflicts(&built, &self.settings().travel));
        }
        out.conflicts = report.conflicts.clone();
        out.event_id = input.id.clone();
        if let Some(old) = &existing
            && same(old, &built)
        {
            out.outcome = Outcome::Unchanged;
            return Ok(out);
        }
        let hard = report
            .conflicts
            .iter()
            .any(|c| c.severity == Severity::Hard);
        if opts.dry_run {
            if hard && !opts.allow_conflicts {
                // Refused, as the import itself would refuse it, and in its words.
                let hard: Vec<Conflict> = report
                    .conflicts
                    .iter()
                    .filter(|c| c.severity == Severity::Hard)
                    .cloned()
                    .collect();
                return Ok(refused(
                    out,
                    &self.conflict_rejection(who, &hard, built.zone()),
                ));
            }
            out.outcome = if existing.is_some() {
                Outcome::Updated
            } else {
                Outcome::Created
            };
            if let Some(dry) = dry {
                self.read(who, |view| dry.known(view.state(), &built));
                dry.wrote(built);
            }
            return Ok(out);
        }
        let written = match &existing {
            Some(old) => {
                self.update_event(who, input, mask, old.meta.etag(), wopts)
                    .await
            }
            None => self.create_event(who, input, wopts).await,
        };
        match written {
            Ok(w) => {
                out.outcome = if existing.is_some() {
                    Outcome::Updated
                } else {
                    Outcome::Created
                };
                out.conflicts = w.report.conflicts;
                Ok(out)
            }
            // Storage failures end the import; anything about this event refuses it.
            Err(
                e @ (Error::Storage(_)
                | Error::Io { .. }
                | Error::Poisoned
                | Error::ShuttingDown
                | Error::Corrupt { .. }),
            ) => Err(e),
            Err(err) => Ok(refused(out, &err)),
        }
    }
}
