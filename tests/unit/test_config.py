"""Configuration: one YAML per deployment, environment variables override."""

from services.intake import stations
from services.kernel import config


def test_environment_overrides_the_yaml_default(monkeypatch):
    assert config.load()["services"]["intake"]["port"] == 8002
    monkeypatch.setenv("INTAKE_PORT", "9100")
    monkeypatch.setenv("INTAKE_DB_URL", "postgresql://db/intake")
    monkeypatch.setenv("LIANXIN_RETRY_DELAYS_MS", "[10, 20]")
    flat = config.service_config(config.load(), "intake")
    assert flat["WEB_SERVER_ADDRESS"] == "127.0.0.1:9100"
    assert flat["DB_URL"] == "postgresql://db/intake"
    assert flat["retry"]["delays_ms"] == [10, 20]
    assert flat["SERVICE_NAME"] == "intake" and "services" not in flat


def test_station_selection():
    assert stations.station_selection("all").serves("anything")
    assert stations.station_selection(None).serves("anything")
    listed = stations.station_selection("gwm, jnl,gwm")
    assert listed.codes == ("gwm", "jnl") and listed.serves("jnl") and not listed.serves("sp")
    assert stations.station_selection(["sp"]).codes == ("sp",)
    halves = [stations.station_selection(f"shard:{i}/2") for i in range(2)]
    codes = [f"station-{i}" for i in range(200)]
    assert all(sum(h.serves(c) for h in halves) == 1 for c in codes)
    assert 60 < sum(halves[0].serves(c) for c in codes) < 140  # a fair share, roughly
