"""entente's iCalendar export read by an independent parser (PyPI's `icalendar`).

Schedules events every few days through 2024 and 2025 in New York, London, Tehran and on
Lord Howe Island (a 30-minute DST shift), at hours on both sides of each zone's DST
changes, plus whole-day events; exports them with ExportCalendar; then, for every VEVENT,
computes its instants from its TZID and the VTIMEZONE entente wrote (built into a tzinfo
by icalendar itself, not looked up by name) and checks them against entente's own UTC
instants from ListEvents. Whole-day events must come back as the same dates, the end
exclusive. The UTC-times export is checked the same way. Exits non-zero on any mismatch.

    python ics_check.py 127.0.0.1:50051
"""

import datetime as dt
import sys
import tempfile

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
                    if utc_times:
                        assert value.tzinfo is not None and value.utcoffset() == dt.timedelta(0), (uid, value)
                        got = value
                    else:
                        tzid = p.params["TZID"]
                        assert tzid == zoned.time_zone, (uid, tzid, zoned.time_zone)
                        naive = value.replace(tzinfo=None)
                        assert naive.isoformat() == zoned.local_time, (uid, naive, zoned.local_time)
                        got = naive.replace(tzinfo=zones[tzid])
                    want = instant(zoned.utc_time)
                    if got.astimezone(dt.timezone.utc) != want:
                        sys.exit(f"{uid} {prop}: the file says {got.astimezone(dt.timezone.utc)}, "
                                 f"entente stored {want} ({zoned.rfc9557})")
                    checked += 1
        assert len(seen) == 2 * made, (len(seen), made)
        print(f"ics: {made} events exported twice (zoned with VTIMEZONEs, and UTC); {checked} "
              f"instants read back by Python icalendar {icalendar.__version__} agree with entente's")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051")
