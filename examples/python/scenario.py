"""The article's week through entente's gRPC contract, from Python.

Generates stubs from ../../proto with grpcio-tools, then: registers the directory, holds
the Ashgabat talks on the sidelines of the conference, schedules the BRICS summit in Kazan
as whole days, shows both in Tehran time, and takes the official-visit invitation from
INVITED to FINALISED with attributed history. Exits non-zero on any surprise.

    python scenario.py 127.0.0.1:50051
"""

import os
import sys
import tempfile

from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "..", "..", "proto")


def generate(out):
    import grpc_tools

    wkt = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    files = [os.path.join("entente", "v1", f) for f in sorted(os.listdir(os.path.join(PROTO, "entente", "v1")))]
    rc = protoc.main(["protoc", f"-I{PROTO}", f"-I{wkt}", f"--python_out={out}", f"--grpc_python_out={out}", *files])
    if rc != 0:
        sys.exit(f"protoc failed with {rc}")
    sys.path.insert(0, out)


def main(target):
    with tempfile.TemporaryDirectory() as out:
        generate(out)
        import grpc
        from entente.v1 import conflict_service_pb2 as cs
        from entente.v1 import conflict_service_pb2_grpc as cs_grpc
        from entente.v1 import directory_pb2 as d
        from entente.v1 import directory_pb2_grpc as d_grpc
        from entente.v1 import event_pb2 as e
        from entente.v1 import event_pb2_grpc as e_grpc
        from entente.v1 import proposal_pb2 as p
        from entente.v1 import proposal_pb2_grpc as p_grpc
        from entente.v1 import time_pb2 as t

        channel = grpc.insecure_channel(target)
        grpc.channel_ready_future(channel).result(timeout=30)
        directory = d_grpc.DirectoryServiceStub(channel)
        events = e_grpc.EventServiceStub(channel)
        conflicts = cs_grpc.ConflictServiceStub(channel)
        proposals = p_grpc.ProposalServiceStub(channel)

        for pid, name, cc, zone in [
            ("putin", "Vladimir Putin", "RU", "Europe/Moscow"),
            ("pezeshkian", "Masoud Pezeshkian", "IR", "Asia/Tehran"),
        ]:
            directory.CreateParticipant(d.CreateParticipantRequest(
                participant_id=pid,
                participant=d.Participant(display_name=name, role=d.PARTICIPANT_ROLE_HEAD_OF_STATE,
                                          country_code=cc, home_time_zone=zone)))
        for vid, city, cc, zone, lat, lng in [
            ("ashgabat-congress", "Ashgabat", "TM", "Asia/Ashgabat", 37.96, 58.33),
            ("kazan-expo", "Kazan", "RU", "Europe/Moscow", 55.80, 49.11),
        ]:
            directory.CreateVenue(d.CreateVenueRequest(
                venue_id=vid,
                venue=d.Venue(display_name=vid, city=city, country_code=cc, time_zone=zone,
                              location=d.LatLng(latitude=lat, longitude=lng))))

        # A bad zone is refused with the field named in google.rpc.BadRequest.
        try:
            directory.CreateVenue(d.CreateVenueRequest(venue=d.Venue(
                display_name="x", city="Kazan", country_code="RU", time_zone="Europe/Kazan")))
            sys.exit("a bad zone was accepted")
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err
            assert "Europe/Kazan" in err.details(), err.details()

        events.CreateEvent(e.CreateEventRequest(event_id="ashgabat-forum-2024", event=e.Event(
            kind=e.EVENT_KIND_CONFERENCE, title="International forum", venue_id="ashgabat-congress",
            participant_ids=["putin", "pezeshkian"],
            timing=e.EventTiming(all_day=e.DateSpan(start_date="2024-10-11")))))
        talks = events.CreateEvent(e.CreateEventRequest(event_id="talks", event=e.Event(
            kind=e.EVENT_KIND_BILATERAL_MEETING, title="Putin-Pezeshkian talks",
            parent_event_id="ashgabat-forum-2024", participant_ids=["putin", "pezeshkian"],
            status=e.EVENT_STATUS_CONFIRMED,
            timing=e.EventTiming(timed=e.TimedSpan(start="2024-10-11T11:00", end="2024-10-11T12:30"))),
            view_zone="Asia/Tehran")).event
        assert talks.start.rfc9557 == "2024-10-11T11:00:00+05:00[Asia/Ashgabat]", talks.start
        assert talks.view_start.local_time == "2024-10-11T09:30:00", talks.view_start

        summit = events.CreateEvent(e.CreateEventRequest(event_id="brics-kazan-2024", event=e.Event(
            kind=e.EVENT_KIND_SUMMIT, title="XVI BRICS summit", venue_id="kazan-expo",
            participant_ids=["putin", "pezeshkian"], status=e.EVENT_STATUS_CONFIRMED,
            timing=e.EventTiming(all_day=e.DateSpan(start_date="2024-10-22", end_date="2024-10-24"))),
            view_zone="Asia/Tehran")).event
        assert summit.end.rfc9557 == "2024-10-25T00:00:00+03:00[Europe/Moscow]", summit.end
        assert summit.view_start.local_time == "2024-10-22T00:30:00", summit.view_start

        # Putin cannot be in Kazan an hour after the talks end in Ashgabat.
        check = conflicts.CheckConflicts(cs.CheckConflictsRequest(event=e.Event(
            kind=e.EVENT_KIND_OTHER, title="Hop", venue_id="kazan-expo", participant_ids=["putin"],
            status=e.EVENT_STATUS_CONFIRMED,
            timing=e.EventTiming(timed=e.TimedSpan(start="2024-10-11T12:30", end="2024-10-11T13:00")))))
        kinds = sorted(c.kind for c in check.conflicts)
        assert 3 in kinds, check  # CONFLICT_KIND_TRAVEL

        # A booking over the confirmed talks is refused; grpcio-status's standard helper
        # reads the google.rpc.Status from the trailers (it refuses one whose message
        # differs from grpc-message) and its PreconditionFailure names the clash.
        from google.rpc import error_details_pb2
        from grpc_status import rpc_status
        try:
            events.CreateEvent(e.CreateEventRequest(event_id="double", event=e.Event(
                kind=e.EVENT_KIND_BILATERAL_MEETING, title="Double booking", venue_id="kazan-expo",
                participant_ids=["putin"], status=e.EVENT_STATUS_CONFIRMED,
                timing=e.EventTiming(timed=e.TimedSpan(start="2024-10-11T11:30",
                                                       end="2024-10-11T12:00",
                                                       time_zone="Asia/Ashgabat")))))
            sys.exit("a double booking was accepted")
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.FAILED_PRECONDITION, err
            status = rpc_status.from_call(err)
            assert status is not None and status.message == err.details(), status
            failure = error_details_pb2.PreconditionFailure()
            assert any(d.Unpack(failure) for d in status.details
                       if d.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR)), status
            assert "PARTICIPANT_CONFLICT" in [v.type for v in failure.violations], failure

        inv = proposals.CreateProposal(p.CreateProposalRequest(proposal_id="official-visit", proposal=p.Proposal(
            kind=p.PROPOSAL_KIND_INVITATION, title="Official visit to Russia",
            proposer=p.Party(participant_id="putin"), recipient=p.Party(participant_id="pezeshkian")),
            actor="putin")).proposal
        acc = proposals.AcceptProposal(p.AcceptProposalRequest(
            id=inv.id, etag=inv.etag, actor="pezeshkian",
            attribution=p.Attribution(source="RIA Novosti"))).proposal
        events.CreateEvent(e.CreateEventRequest(event_id="visit", event=e.Event(
            kind=e.EVENT_KIND_OFFICIAL_VISIT, title="Official visit", venue_id="kazan-expo",
            participant_ids=["putin", "pezeshkian"],
            timing=e.EventTiming(all_day=e.DateSpan(start_date="2025-01-17")))))
        fin = proposals.FinaliseProposal(p.FinaliseProposalRequest(
            id=acc.id, etag=acc.etag, event_id="visit", confirm_event=True))
        assert fin.proposal.status == p.PROPOSAL_STATUS_FINALISED, fin
        assert fin.event.status == e.EVENT_STATUS_CONFIRMED, fin.event
        history = proposals.ListProposalHistory(p.ListProposalHistoryRequest(proposal_id=inv.id)).transitions
        assert [h.to_status for h in history] == [p.PROPOSAL_STATUS_INVITED, p.PROPOSAL_STATUS_ACCEPTED,
                                                    p.PROPOSAL_STATUS_FINALISED], history
        assert history[1].attribution.source == "RIA Novosti"

        window = t.TimeWindow(start="2024-10-01", end="2024-11-01", time_zone="Asia/Tehran")
        agenda = events.GetAgenda(e.GetAgendaRequest(participant_id="pezeshkian", window=window))
        assert agenda.view_zone == "Asia/Tehran"
        assert [x.id for x in agenda.events] == ["ashgabat-forum-2024", "talks", "brics-kazan-2024"], agenda
        print("python scenario: 1 passed, 0 failed")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051")
