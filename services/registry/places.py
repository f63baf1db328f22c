"""Sectors (界别), workstations (委员工作站) and studios (委员工作室): checked and saved."""

from __future__ import annotations

from marshmallow import ValidationError
from sqlalchemy.orm import Session

from services.registry.models import Sector, Station, Studio, StudioSector
from services.registry.records import (
    sector_payload,
    sector_record,
    station_payload,
    station_record,
    studio_payload,
    studio_record,
)
from services.registry.saving import save_row, setter, unknown
from services.registry.schemas import SectorSchema, StationSchema, StudioSchema

# one instance each: building a schema costs more than loading a record with it
_SECTOR, _STATION, _STUDIO = SectorSchema(), StationSchema(), StudioSchema()


def _save_flat(session: Session, model, values: dict, record_fn, payload_fn, event_type):
    """A record whose fields are all plain columns."""
    return save_row(
        session,
        model,
        values["code"],
        lambda: model(**values, revision=1),
        setter(values),
        record_fn,
        payload_fn,
        event_type,
    )


def save_sector(session: Session, data: dict):
    d = _SECTOR.load(data)
    return _save_flat(session, Sector, d, sector_record, sector_payload, "registry.sector_saved")


def save_station(session: Session, data: dict):
    d = _STATION.load(data)
    return _save_flat(
        session, Station, d, station_record, station_payload, "registry.station_saved"
    )


def save_studio(session: Session, data: dict):
    d = _STUDIO.load(data)
    missing = unknown(session, Sector, d["sectors"])
    if missing:
        raise ValidationError({"sectors": [f"未知界别 / unknown sector: {', '.join(missing)}"]})
    values = {k: d[k] for k in ("code", "name", "district", "location", "lat", "lng", "active")}
    wanted = sorted(set(d["sectors"]))

    def sectors():
        return [StudioSector(studio_code=d["code"], sector_code=s) for s in wanted]

    def apply(row):
        setter(values)(row)
        if [x.sector_code for x in row.sectors] != wanted:
            row.sectors = sectors()

    return save_row(
        session,
        Studio,
        d["code"],
        lambda: Studio(**values, revision=1, sectors=sectors()),
        apply,
        studio_record,
        studio_payload,
        "registry.studio_saved",
    )
