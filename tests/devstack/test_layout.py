"""The dev stack's layout and environment: one run directory holds every file of one
stack, the ports decide every URL, and one function sends every outside system to the
sandbox."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from devstack import Layout, sandbox_base_urls
from devstack.environment import choose_environment, load_stack_env, write_stack_env
from devstack.layout import REPO

NO_EXPORTS: dict[str, str] = {}


def test_the_default_layout_is_var_with_ports_8000_and_8900():
    layout = Layout()
    assert layout.run_dir == REPO / "var"
    assert layout.pid_file("web") == REPO / "var" / "run" / "web.pid"
    assert layout.log_file("worker") == REPO / "var" / "log" / "worker.log"
    assert layout.stack_env_file == REPO / "var" / "stack.env"
    assert (layout.web_url, layout.sandbox_url) == ("http://127.0.0.1:8000",
                                                    "http://127.0.0.1:8900")


def test_a_private_layout_moves_every_file_and_url(tmp_path):
    layout = Layout(run_dir=tmp_path, web_port=18001, sandbox_port=18901)
    embedded = layout.embedded_env()
    files = [layout.pid_file("sandbox"), layout.log_file("beat"), layout.stack_env_file,
             Path(embedded["BROKER_FOLDER"]), Path(embedded["FILE_CACHE_DIR"])]
    assert all(path.is_relative_to(tmp_path) for path in files)
    assert embedded["DATABASE_URL"] == f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert layout.readyz_url == "http://127.0.0.1:18001/readyz"
    assert layout.webhook_url == "http://127.0.0.1:18001/webhooks/token-service"
    assert layout.sandbox_health_url == "http://127.0.0.1:18901/sandbox/health"


def test_the_layout_comes_from_stack_variables_and_flags_win():
    environ = {"STACK_RUN_DIR": "var/elsewhere", "STACK_WEB_PORT": "18002",
               "STACK_SANDBOX_PORT": "18902"}
    assert Layout.from_environ(environ) == Layout(REPO / "var/elsewhere", 18002, 18902)
    assert Layout.from_environ(environ, web_port=18003).web_port == 18003


def test_sandbox_base_urls_match_the_settings_defaults_for_every_outside_system():
    urls = sandbox_base_urls("http://127.0.0.1:8900")
    # Every setting the service reads its outside systems from, and no other.
    systems = {name for name in dir(settings) if name.endswith("_BASE_URL")}
    assert set(urls) == systems
    assert urls == {name: getattr(settings, name) for name in systems}


def test_embedded_mode_keeps_its_database_broker_and_cache_in_the_run_directory(tmp_path):
    layout = Layout(run_dir=tmp_path, web_port=18004, sandbox_port=18904)
    env, notes = choose_environment(NO_EXPORTS, "embedded", layout)
    assert env["STACK_MODE"] == "embedded"
    assert env["DATABASE_URL"] == f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert (env["BROKER_FOLDER"], env["FILE_CACHE_DIR"]) == (str(tmp_path / "broker"),
                                                             str(tmp_path / "cache"))
    assert env["TOKEN_SERVICE_BASE_URL"] == "http://127.0.0.1:18904/tms"
    assert env["SANDBOX_WEBHOOK_URL"] == "http://127.0.0.1:18004/webhooks/token-service"
    assert notes == ["mode embedded requested"]


def test_services_mode_has_no_embedded_folders_and_exported_urls_win(tmp_path):
    exported = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/pp_other",
                "ISSUER_BASE_URL": "http://issuer.example/issuer"}
    env, _ = choose_environment(exported, "services", Layout(run_dir=tmp_path))
    assert env["STACK_MODE"] == "services"
    assert env["DATABASE_URL"].endswith("/pp_other")
    assert env["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/0"
    assert env["ISSUER_BASE_URL"] == "http://issuer.example/issuer"
    assert "BROKER_FOLDER" not in env and "FILE_CACHE_DIR" not in env


def test_the_stack_env_file_reads_back_what_was_written(tmp_path):
    env, _ = choose_environment(NO_EXPORTS, "embedded", Layout(run_dir=tmp_path / "a b"))
    path = tmp_path / "a b" / "stack.env"
    write_stack_env(path, env, "a b/stack.env")
    assert load_stack_env(path) == env
    assert load_stack_env(tmp_path / "never-written.env") is None
