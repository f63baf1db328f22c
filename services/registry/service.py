"""The registry nameko service: HTTP for the office, RPC for the other services."""

from __future__ import annotations

from marshmallow import ValidationError
from nameko.rpc import rpc
from nameko.web.handlers import http

from services.kernel.http import ApiError, json_response, read_json
from services.kernel.service import ServiceBase
from services.registry import registry


def _invalid(err: ValidationError) -> ApiError:
    return ApiError(
        "invalid", "输入有误，请检查标出的字段", "invalid input, see fields", fields=err.messages
    )


class RegistryService(ServiceBase):
    name = "registry"

    def health_details(self, session):
        return {"stations": len(registry.list_stations(session))}

    @http("GET", "/stations")
    def http_stations(self, request):
        with self.db.transaction() as session:
            return json_response({"stations": registry.list_stations(session)})

    @http("GET", "/sectors")
    def http_sectors(self, request):
        with self.db.transaction() as session:
            return json_response({"sectors": registry.list_sectors(session)})

    @http("GET", "/members")
    def http_members(self, request):
        with self.db.transaction() as session:
            members = registry.list_members(session, station=request.args.get("station"))
            return json_response({"members": members})

    @http("POST", "/members")
    def http_save_member(self, request):
        return self._save(request, registry.save_member, registry.member_payload)

    @http("POST", "/stations")
    def http_save_station(self, request):
        return self._save(request, registry.save_station, registry.station_payload)

    def _save(self, request, save, payload):
        try:
            data = read_json(request)
            with self.db.transaction() as session:
                row, changed = save(session, data)
                body = {"saved": payload(row), "changed": changed}
        except ValidationError as err:
            return _invalid(err).response()
        except ApiError as err:
            return err.response()
        return json_response(body, 201 if changed else 200)

    @rpc
    def list_stations(self):
        with self.db.transaction() as session:
            return registry.list_stations(session)

    @rpc
    def list_members(self, station=None):
        with self.db.transaction() as session:
            return registry.list_members(session, station=station)
