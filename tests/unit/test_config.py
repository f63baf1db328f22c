"""Configuration: one YAML per deployment, environment variables override."""

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
    assert config.station_selection("all") is None
    assert config.station_selection(None) is None
    assert config.station_selection("gwm, jnl,gwm") == ["gwm", "jnl"]
    assert config.station_selection(["sp"]) == ["sp"]
