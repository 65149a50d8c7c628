from __future__ import annotations

import yaml

from anibridge.app.config.edit import rewrite_text
from anibridge.app.config.secrets import redact

TEXT = """\
# my AniBridge config
log_level: INFO   # chatty on purpose
profiles:
  demo:
    source: {name: lib, type: local, config: {path: lib.sqlite}}  # flow kept
    fields:
      - status
      - progress
web:
  # the admin login
  admin_password: hunter2hunter2
  token: {env: TOKEN}
"""


def test_masking_keeps_comments_and_layout():
    shown = rewrite_text(TEXT, redact)
    assert "hunter2" not in shown
    assert "admin_password: '***'" in shown
    assert "token: <secret from env TOKEN>" in shown
    unchanged = [line for line in TEXT.splitlines() if "admin" not in line]
    unchanged = [line for line in unchanged if "token" not in line]
    assert [line for line in shown.splitlines() if line in unchanged] == unchanged


def test_untouched_text_round_trips_byte_for_byte():
    assert rewrite_text(TEXT, lambda doc: doc) == TEXT


def test_restore_puts_secrets_back_into_the_submitted_text():
    stored = yaml.safe_load(TEXT)
    submitted = rewrite_text(TEXT, redact).replace("INFO", "DEBUG")
    submitted = submitted.replace("# the admin login", "# edited in the browser")

    def restore(doc):
        out = dict(doc)
        web = dict(doc["web"])
        web["admin_password"] = stored["web"]["admin_password"]
        web["token"] = stored["web"]["token"]
        out["web"] = web
        return out

    saved = rewrite_text(submitted, restore)
    assert "# edited in the browser" in saved
    assert "log_level: DEBUG   # chatty on purpose" in saved
    assert yaml.safe_load(saved) == {**stored, "log_level": "DEBUG"}


def test_non_mapping_text_is_returned_as_is():
    assert rewrite_text("- a\n- b\n", redact) == "- a\n- b\n"
