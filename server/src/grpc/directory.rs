//! `entente.v1.DirectoryService`: validate, call the scheduler, convert back.

use entente_proto::v1 as pb;
use entente_proto::v1::directory_service_server::DirectoryService;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::access;
use super::convert::{self, mask, required};
use crate::directory::{
    self as dir, COUNTRY_FIELDS, FORUM_FIELDS, PARTICIPANT_FIELDS, VENUE_FIELDS, requested_id,
};
use crate::error::Result;
use crate::grpc::status::{OrStatus, to_status};
use crate::scheduler::Scheduler;
use crate::validate;

/// The directory service over a scheduler.
#[derive(Debug, Clone)]
pub struct Directory {
    scheduler: Scheduler,
}

impl Directory {
    /// Serves `scheduler`'s directory.
    pub fn new(scheduler: Scheduler) -> Directory {
        Directory { scheduler }
    }
}

type Reply<T> = std::result::Result<Response<T>, Status>;

fn ok<T>(r: Result<T>) -> Reply<T> {
    r.map(Response::new).map_err(to_status)
}

fn filter_code(field: &str, code: &str) -> Result<Option<String>> {
    if code.trim().is_empty() {
        Ok(None)
    } else {
        validate::country_code(field, code).map(Some)
    }
}

#[tonic::async_trait]
impl DirectoryService for Directory {
    #[instrument(skip_all)]
    async fn create_country(
        &self,
        req: Request<pb::CreateCountryRequest>,
    ) -> Reply<pb::CreateCountryResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let mut input = convert::country_input(required("country", r.country).or_status()?);
        input.request_id = r.request_id;
        let c = self
            .scheduler
            .create_country(&who, input)
            .await
            .or_status()?;
        ok(Ok(pb::CreateCountryResponse {
            country: Some(convert::country(&c)),
        }))
    }

    #[instrument(skip_all)]
    async fn get_country(
        &self,
        req: Request<pb::GetCountryRequest>,
    ) -> Reply<pb::GetCountryResponse> {
        let who = access::principal(&req)?;
        let code = validate::country_code("code", &req.into_inner().code).or_status()?;
        let c = self
            .scheduler
            .get::<dir::Country>(&who, &code)
            .or_status()?;
        ok(Ok(pb::GetCountryResponse {
            country: Some(convert::country(&c)),
        }))
    }

    #[instrument(skip_all)]
    async fn list_countries(
        &self,
        req: Request<pb::ListCountriesRequest>,
    ) -> Reply<pb::ListCountriesResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let page = convert::page(&r).or_status()?;
        let page = self.scheduler.list::<dir::Country>(&who, &page, |_| true);
        ok(Ok(pb::ListCountriesResponse {
            countries: page.items.iter().map(convert::country).collect(),
            next_page_token: page.next_page_token,
            revision: page.revision as i64,
        }))
    }

    #[instrument(skip_all)]
    async fn update_country(
        &self,
        req: Request<pb::UpdateCountryRequest>,
    ) -> Reply<pb::UpdateCountryResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let c = required("country", r.country).or_status()?;
        let etag = c.etag.clone();
        let m = mask(r.update_mask, COUNTRY_FIELDS).or_status()?;
        let c = self
            .scheduler
            .update_country(
                &who,
                dir::CountryInput {
                    request_id: r.request_id,
                    ..convert::country_input(c)
                },
                m,
                etag,
            )
            .await
            .or_status()?;
        ok(Ok(pb::UpdateCountryResponse {
            country: Some(convert::country(&c)),
        }))
    }

    #[instrument(skip_all)]
    async fn delete_country(
        &self,
        req: Request<pb::DeleteCountryRequest>,
    ) -> Reply<pb::DeleteCountryResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let code = validate::country_code("code", &r.code).or_status()?;
        self.scheduler
            .delete::<dir::Country>(&who, &code, &r.etag, &r.request_id)
            .await
            .or_status()?;
        ok(Ok(pb::DeleteCountryResponse {}))
    }

    #[instrument(skip_all)]
    async fn create_participant(
        &self,
        req: Request<pb::CreateParticipantRequest>,
    ) -> Reply<pb::CreateParticipantResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let mut input =
            convert::participant_input(required("participant", r.participant).or_status()?)
                .or_status()?;
        input.id = requested_id("participant_id", &r.participant_id, &input.id).or_status()?;
        input.request_id = r.request_id;
        let p = self
            .scheduler
            .create_participant(&who, input)
            .await
            .or_status()?;
        ok(Ok(pb::CreateParticipantResponse {
            participant: Some(convert::participant(&p)),
        }))
    }

    #[instrument(skip_all)]
    async fn get_participant(
        &self,
        req: Request<pb::GetParticipantRequest>,
    ) -> Reply<pb::GetParticipantResponse> {
        let who = access::principal(&req)?;
        let p = self
            .scheduler
            .get::<dir::Participant>(&who, &req.into_inner().id)
            .or_status()?;
        ok(Ok(pb::GetParticipantResponse {
            participant: Some(convert::participant(&p)),
        }))
    }

    #[instrument(skip_all)]
    async fn list_participants(
        &self,
        req: Request<pb::ListParticipantsRequest>,
    ) -> Reply<pb::ListParticipantsResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let page = convert::page(&r).or_status()?;
        let country = filter_code("country_code", &r.country_code).or_status()?;
        let page = self.scheduler.list::<dir::Participant>(&who, &page, |p| {
            country.as_ref().is_none_or(|c| *c == p.country_code)
        });
        ok(Ok(pb::ListParticipantsResponse {
            participants: page.items.iter().map(convert::participant).collect(),
            next_page_token: page.next_page_token,
            revision: page.revision as i64,
        }))
    }

    #[instrument(skip_all)]
    async fn update_participant(
        &self,
        req: Request<pb::UpdateParticipantRequest>,
    ) -> Reply<pb::UpdateParticipantResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let p = required("participant", r.participant).or_status()?;
        let etag = p.etag.clone();
        let m = mask(r.update_mask, PARTICIPANT_FIELDS).or_status()?;
        let p = self
            .scheduler
            .update_participant(
                &who,
                dir::ParticipantInput {
                    request_id: r.request_id,
                    ..convert::participant_input(p).or_status()?
                },
                m,
                etag,
            )
            .await
            .or_status()?;
        ok(Ok(pb::UpdateParticipantResponse {
            participant: Some(convert::participant(&p)),
        }))
    }

    #[instrument(skip_all)]
    async fn delete_participant(
        &self,
        req: Request<pb::DeleteParticipantRequest>,
    ) -> Reply<pb::DeleteParticipantResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        self.scheduler
            .delete::<dir::Participant>(&who, &r.id, &r.etag, &r.request_id)
            .await
            .or_status()?;
        ok(Ok(pb::DeleteParticipantResponse {}))
    }

    #[instrument(skip_all)]
    async fn create_venue(
        &self,
        req: Request<pb::CreateVenueRequest>,
    ) -> Reply<pb::CreateVenueResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let mut input = convert::venue_input(required("venue", r.venue).or_status()?);
        input.id = requested_id("venue_id", &r.venue_id, &input.id).or_status()?;
        input.request_id = r.request_id;
        let v = self.scheduler.create_venue(&who, input).await.or_status()?;
        ok(Ok(pb::CreateVenueResponse {
            venue: Some(convert::venue(&v)),
        }))
    }

    #[instrument(skip_all)]
    async fn get_venue(&self, req: Request<pb::GetVenueRequest>) -> Reply<pb::GetVenueResponse> {
        let who = access::principal(&req)?;
        let v = self
            .scheduler
            .get::<dir::Venue>(&who, &req.into_inner().id)
            .or_status()?;
        ok(Ok(pb::GetVenueResponse {
            venue: Some(convert::venue(&v)),
        }))
    }

    #[instrument(skip_all)]
    async fn list_venues(
        &self,
        req: Request<pb::ListVenuesRequest>,
    ) -> Reply<pb::ListVenuesResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let page = convert::page(&r).or_status()?;
        let country = filter_code("country_code", &r.country_code).or_status()?;
        let city = r.city.trim().to_lowercase();
        let page = self.scheduler.list::<dir::Venue>(&who, &page, |v| {
            country.as_ref().is_none_or(|c| *c == v.country_code)
                && (city.is_empty() || v.city.to_lowercase() == city)
        });
        ok(Ok(pb::ListVenuesResponse {
            venues: page.items.iter().map(convert::venue).collect(),
            next_page_token: page.next_page_token,
            revision: page.revision as i64,
        }))
    }

    #[instrument(skip_all)]
    async fn update_venue(
        &self,
        req: Request<pb::UpdateVenueRequest>,
    ) -> Reply<pb::UpdateVenueResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let v = required("venue", r.venue).or_status()?;
        let etag = v.etag.clone();
        let m = mask(r.update_mask, VENUE_FIELDS).or_status()?;
        let v = self
            .scheduler
            .update_venue(
                &who,
                dir::VenueInput {
                    request_id: r.request_id,
                    ..convert::venue_input(v)
                },
                m,
                etag,
            )
            .await
            .or_status()?;
        ok(Ok(pb::UpdateVenueResponse {
            venue: Some(convert::venue(&v)),
        }))
    }

    #[instrument(skip_all)]
    async fn delete_venue(
        &self,
        req: Request<pb::DeleteVenueRequest>,
    ) -> Reply<pb::DeleteVenueResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        self.scheduler
            .delete::<dir::Venue>(&who, &r.id, &r.etag, &r.request_id)
            .await
            .or_status()?;
        ok(Ok(pb::DeleteVenueResponse {}))
    }

    #[instrument(skip_all)]
    async fn create_forum(
        &self,
        req: Request<pb::CreateForumRequest>,
    ) -> Reply<pb::CreateForumResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let mut input = convert::forum_input(required("forum", r.forum).or_status()?);
        input.id = requested_id("forum_id", &r.forum_id, &input.id).or_status()?;
        input.request_id = r.request_id;
        let f = self.scheduler.create_forum(&who, input).await.or_status()?;
        ok(Ok(pb::CreateForumResponse {
            forum: Some(convert::forum(&f)),
        }))
    }

    #[instrument(skip_all)]
    async fn get_forum(&self, req: Request<pb::GetForumRequest>) -> Reply<pb::GetForumResponse> {
        let who = access::principal(&req)?;
        let f = self
            .scheduler
            .get::<dir::Forum>(&who, &req.into_inner().id)
            .or_status()?;
        ok(Ok(pb::GetForumResponse {
            forum: Some(convert::forum(&f)),
        }))
    }

    #[instrument(skip_all)]
    async fn list_forums(
        &self,
        req: Request<pb::ListForumsRequest>,
    ) -> Reply<pb::ListForumsResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let page = convert::page(&r).or_status()?;
        let member = filter_code("member_country_code", &r.member_country_code).or_status()?;
        let page = self.scheduler.list::<dir::Forum>(&who, &page, |f| {
            member.as_ref().is_none_or(|c| f.members.contains(c))
        });
        ok(Ok(pb::ListForumsResponse {
            forums: page.items.iter().map(convert::forum).collect(),
            next_page_token: page.next_page_token,
            revision: page.revision as i64,
        }))
    }

    #[instrument(skip_all)]
    async fn update_forum(
        &self,
        req: Request<pb::UpdateForumRequest>,
    ) -> Reply<pb::UpdateForumResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let f = required("forum", r.forum).or_status()?;
        let etag = f.etag.clone();
        let m = mask(r.update_mask, FORUM_FIELDS).or_status()?;
        let f = self
            .scheduler
            .update_forum(
                &who,
                dir::ForumInput {
                    request_id: r.request_id,
                    ..convert::forum_input(f)
                },
                m,
                etag,
            )
            .await
            .or_status()?;
        ok(Ok(pb::UpdateForumResponse {
            forum: Some(convert::forum(&f)),
        }))
    }

    #[instrument(skip_all)]
    async fn delete_forum(
        &self,
        req: Request<pb::DeleteForumRequest>,
    ) -> Reply<pb::DeleteForumResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        self.scheduler
            .delete::<dir::Forum>(&who, &r.id, &r.etag, &r.request_id)
            .await
            .or_status()?;
        ok(Ok(pb::DeleteForumResponse {}))
    }
}
