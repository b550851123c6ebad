"""entente's iCalendar export read by an independent parser (PyPI's `icalendar`).

Schedules events every few days through 2024 and 2025 in New York, London, Tehran and on
Lord Howe Island (a 30-minute DST shift), at hours on both sides of each zone's DST
changes, plus whole-day events; exports them with ExportCalendar; then, for every VEVENT,
computes its instants from its TZID and the VTIMEZONE entente wrote (built into a tzinfo
by icalendar itself, not looked up by name) and checks them against entente's own UTC
instants from ListEvents. Whole-day events must come back as the same dates, the end
exclusive. The UTC-times export is checked the same way.

Folds and gaps too: at every DST change of those zones in 2024 and 2025 (found with
Python's own zoneinfo), events start in the skipped or repeated wall times (resolved
EARLIER, LATER and COMPATIBLE) and end in the repeated ones. A time written with a TZID
must name one instant in zoneinfo's tzdb (neither repeated nor skipped); a repeated one
must be written as its UTC instant. Every instant must agree. Then each zoned export is
imported back (dry run), and every event must come back UNCHANGED. Exits non-zero on any
mismatch.

    python ics_check.py 127.0.0.1:50051
"""

import datetime as dt
import sys
import tempfile
import zoneinfo

import icalendar

from scenario import generate

ZONES = [
    ("ics-ny", "New York", "US", "America/New_York", 40.75, -73.97),
    ("ics-london", "London", "GB", "Europe/London", 51.50, -0.14),
    ("ics-tehran", "Tehran", "IR", "Asia/Tehran", 35.82, 51.42),
    ("ics-lord-howe", "Lord Howe Island", "AU", "Australia/Lord_Howe", -31.55, 159.08),
]
# Wall times that exist exactly once in every zone above (no DST change happens at these
# hours), so each names one instant whatever a parser does with gaps and folds.
HOURS = ["00:15", "04:00", "09:30", "12:00", "18:45", "23:30"]


def instant(ts):
    return dt.datetime.fromtimestamp(ts.seconds, dt.timezone.utc)


def transitions(zone, first_year, last_year):
    """(instant, offset before, offset after) of each change of `zone`'s UTC offset."""
    tz = zoneinfo.ZoneInfo(zone)
    t = dt.datetime(first_year, 1, 1, tzinfo=dt.timezone.utc)
    end = dt.datetime(last_year + 1, 1, 1, tzinfo=dt.timezone.utc)
    step = dt.timedelta(minutes=15)
    before = t.astimezone(tz).utcoffset()
    out = []
    while t < end:
        t += step
        after = t.astimezone(tz).utcoffset()
        if after != before:
            out.append((t, before, after))
            before = after
    return out


def wall_kind(local, zone):
    """'fold' if zoneinfo repeats the naive wall time `local` in `zone`, 'gap' if it skips
    it, else 'once'."""
    tz = zoneinfo.ZoneInfo(zone)
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        # PEP 495: in a fold both readings exist; in a gap they do too, but neither
        # round-trips through UTC.
        back = first.astimezone(dt.timezone.utc).astimezone(tz).replace(tzinfo=None)
        return "fold" if back == local else "gap"
    return "once"


def main(target):
    with tempfile.TemporaryDirectory() as out:
        generate(out)
        import grpc
        from entente.v1 import directory_pb2 as d
        from entente.v1 import directory_pb2_grpc as d_grpc
        from entente.v1 import event_pb2 as e
        from entente.v1 import event_pb2_grpc as e_grpc
        from entente.v1 import ics_pb2 as ics
        from entente.v1 import ics_pb2_grpc as ics_grpc
        from entente.v1 import time_pb2 as t

        channel = grpc.insecure_channel(target)
        grpc.channel_ready_future(channel).result(timeout=30)
        directory = d_grpc.DirectoryServiceStub(channel)
        events = e_grpc.EventServiceStub(channel)
        export = ics_grpc.ICalendarServiceStub(channel)

        for vid, city, cc, zone, lat, lng in ZONES:
            directory.CreateVenue(d.CreateVenueRequest(
                venue_id=vid,
                venue=d.Venue(display_name=vid, city=city, country_code=cc, time_zone=zone,
                              location=d.LatLng(latitude=lat, longitude=lng))))

        made = 0
        day = dt.date(2024, 1, 2)
        while day < dt.date(2025, 12, 28):
            for i, (vid, *_rest) in enumerate(ZONES):
                hour = HOURS[(day.toordinal() + i) % len(HOURS)]
                start = dt.datetime.fromisoformat(f"{day}T{hour}")
                end = start + dt.timedelta(hours=5, minutes=15)
                events.CreateEvent(e.CreateEventRequest(event_id=f"ics-{vid}-{day}", event=e.Event(
                    kind=e.EVENT_KIND_OTHER, title=f"{vid} {day} {hour}", venue_id=vid,
                    status=e.EVENT_STATUS_TENTATIVE,
                    timing=e.EventTiming(timed=e.TimedSpan(
                        start=start.isoformat(timespec="minutes"),
                        end=end.isoformat(timespec="minutes"))))))
                made += 1
            if day.day % 9 == 0:
                last = day + dt.timedelta(days=2)
                events.CreateEvent(e.CreateEventRequest(event_id=f"ics-days-{day}", event=e.Event(
                    kind=e.EVENT_KIND_SUMMIT, title=f"Summit {day}", venue_id=ZONES[day.month % 4][0],
                    status=e.EVENT_STATUS_TENTATIVE,
                    timing=e.EventTiming(all_day=e.DateSpan(
                        start_date=str(day), end_date=str(last))))))
                made += 1
            day += dt.timedelta(days=3)

        # At every DST change: starts in the skipped or repeated wall times, and ends in
        # the repeated ones.
        edge_events = 0
        for vid, _city, _cc, zone, *_ in ZONES:
            for at, before, after in transitions(zone, 2024, 2025):
                if after > before:  # a gap: [at + before, at + after) never shows
                    wall = (at + before).replace(tzinfo=None) + (after - before) / 2
                    starts = [(wall, "COMPATIBLE"), (wall, "EARLIER"), (wall, "LATER")]
                    ends = []
                else:  # a fold: [at + after, at + before) shows twice
                    wall = (at + after).replace(tzinfo=None) + (before - after) / 2
                    starts = [(wall, "EARLIER"), (wall, "LATER")]
                    ends = [(wall, "EARLIER"), (wall, "LATER")]
                cases = [(w, d, "start") for w, d in starts] + [(w, d, "end") for w, d in ends]
                for wall_time, how, where in cases:
                    if where == "start":
                        start, end = wall_time, wall_time + dt.timedelta(hours=2)
                    else:
                        start, end = wall_time - dt.timedelta(hours=3), wall_time
                    eid = f"ics-edge-{vid}-{at:%Y%m%d%H%M}-{where}-{how.lower()}"
                    events.CreateEvent(e.CreateEventRequest(
                        event_id=eid, allow_conflicts=True,
                        disambiguation=getattr(t, f"DISAMBIGUATION_{how}"),
                        event=e.Event(
                            kind=e.EVENT_KIND_OTHER, title=eid, venue_id=vid,
                            status=e.EVENT_STATUS_TENTATIVE,
                            timing=e.EventTiming(timed=e.TimedSpan(
                                start=start.isoformat(timespec="minutes"),
                                end=end.isoformat(timespec="minutes"))))))
                    made += 1
                    edge_events += 1
        assert edge_events >= 40, edge_events

        stored = {}
        token = ""
        while True:
            page = events.ListEvents(e.ListEventsRequest(page_size=1000, page_token=token))
            for ev in page.events:
                if ev.id.startswith("ics-"):
                    stored[ev.id] = ev
            token = page.next_page_token
            if not token:
                break
        assert len(stored) == made, (len(stored), made)

        checked = 0
        written_utc = 0
        seen = set()
        # An export covers at most 400 days: one per year, twice (zoned, then UTC).
        for utc_times, year in [(u, y) for u in (False, True) for y in (2024, 2025)]:
            window = t.TimeWindow(start=f"{year}-01-01", end=f"{year + 1}-01-01", time_zone="UTC")
            text = export.ExportCalendar(ics.ExportCalendarRequest(window=window, utc_times=utc_times)).ics
            cal = icalendar.Calendar.from_ical(text)
            zones = {}
            for vtz in cal.walk("VTIMEZONE"):
                zones[str(vtz["TZID"])] = vtz.to_tz(lookup_tzid=False)
            if utc_times:
                assert not zones, "a UTC export has no VTIMEZONE"
            else:
                # The store may hold other events too (scenario.py runs first).
                assert set(zones) >= {z[3] for z in ZONES}, sorted(zones)
            for vevent in cal.walk("VEVENT"):
                uid = str(vevent["UID"])
                eid = uid.rsplit("@", 1)[0]
                ev = stored.get(eid)
                if ev is None:
                    continue
                seen.add((utc_times, eid))
                for prop, zoned in (("DTSTART", ev.start), ("DTEND", ev.end)):
                    p = vevent[prop]
                    value = p.dt
                    if ev.timing.WhichOneof("span") == "all_day":
                        want = dt.date.fromisoformat(zoned.local_time[:10])
                        assert p.params.get("VALUE") == "DATE", (uid, prop, p.params)
                        assert type(value) is dt.date, (uid, prop, value)
                        assert value == want, (uid, prop, value, want)
                        continue
                    if utc_times or "TZID" not in p.params:
                        # A UTC export; or, zoned, a wall time its zone repeats (it names two
                        # instants, and RFC 5545 would read the first).
                        assert value.tzinfo is not None and value.utcoffset() == dt.timedelta(0), (uid, value)
                        if not utc_times:
                            local = dt.datetime.fromisoformat(zoned.local_time)
                            kind = wall_kind(local, zoned.time_zone)
                            assert kind == "fold", (uid, prop, zoned.local_time, kind)
                            written_utc += 1
                        got = value
                    else:
                        tzid = p.params["TZID"]
                        assert tzid == zoned.time_zone, (uid, tzid, zoned.time_zone)
                        naive = value.replace(tzinfo=None)
                        assert naive.isoformat() == zoned.local_time, (uid, naive, zoned.local_time)
                        # With a TZID, the wall time must name one instant.
                        kind = wall_kind(naive, tzid)
                        assert kind == "once", (uid, prop, zoned.local_time, kind)
                        got = naive.replace(tzinfo=zones[tzid])
                    want = instant(zoned.utc_time)
                    if got.astimezone(dt.timezone.utc) != want:
                        sys.exit(f"{uid} {prop}: the file says {got.astimezone(dt.timezone.utc)}, "
                                 f"entente stored {want} ({zoned.rfc9557})")
                    checked += 1
            if not utc_times:
                # Back in: entente's own file, every event unchanged.
                back = export.ImportCalendar(ics.ImportCalendarRequest(ics=text, dry_run=True))
                outcomes = {}
                for r in back.results:
                    if r.event_id.startswith("ics-"):
                        outcomes[r.event_id] = r
                mine = {eid for (u, eid) in seen if not u and eid in outcomes}
                assert mine, "no event of this script came back"
                for eid in mine:
                    r = outcomes[eid]
                    if r.outcome != ics.IMPORT_OUTCOME_UNCHANGED:
                        sys.exit(f"re-import of {eid}: {ics.ImportOutcome.Name(r.outcome)} {r.reason}")
        assert len(seen) == 2 * made, (len(seen), made)
        assert written_utc >= 20, written_utc
        print(f"ics: {made} events ({edge_events} in DST gaps and folds) exported twice (zoned "
              f"with VTIMEZONEs, and UTC); {checked} instants read back by Python icalendar "
              f"{icalendar.__version__} agree with entente's ({written_utc} repeated wall times "
              f"written as UTC); every zoned export imports back unchanged")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051")
