"""The commented `anibridge.yaml` that `anibridge init` writes.

Every key is shown with its default and a line saying what it does, so the file is
its own documentation; the template is validated in tests so it can never rot.
"""

from __future__ import annotations

__all__ = ["HEAD", "PROFILE_OPTIONS", "TEMPLATE"]

HEAD = """\
# AniBridge configuration. Paths are relative to this file.
# Any key can be overridden from the environment: ANIBRIDGE_STORE_URL=...,
# ANIBRIDGE_PROFILES__DEFAULT__DIRECTION=two_way (double underscore = one level down).

# Where the store (history, undo journal, links), backups and the token key live.
data_dir: data
# Any SQLAlchemy URL; empty = SQLite file <data_dir>/anibridge.db (WAL mode).
# e.g. postgresql+psycopg://anibridge@db/anibridge
store_url:
# Your timezone (IANA name): turns play times into calendar dates for date-only
# trackers, so "watched at 00:30" lands on the right day.
timezone: UTC
log_level: INFO
# One run per profile at a time (CLI and service alike): seconds a run waits for
# another run of the same profile before giving up with exit code 75.
lock_wait: 60

backups:
  # Back up each target before the first write of every run.
  before_write: true
  # Backups kept per profile and target (0 = keep all).
  retention: 10
  # directory: data/backups

mappings:
  # Use the bundled anibridge-mappings dataset.
  include_default: true
  # Your own mapping files (YAML/JSON, v3 format); they win over the bundled data.
  custom: []

# `anibridge serve`: the web UI, API and webhooks (see docs/security.md).
web:
  host: 127.0.0.1
  port: 4848
  # Log in to the web UI (off is refused unless bound to loopback).
  auth: true
  # How you reach the service, e.g. https://anibridge.example.com; its host is
  # answered and webhook URLs are shown with it.
  public_url:
  # Host names the service answers besides the bind address, localhost,
  # 127.0.0.1, [::1] and public_url's host (IP addresses always work). Other
  # names get 400: this stops DNS-rebinding web pages. e.g. [nas.lan, "*.home.arpa"]
  allowed_hosts: []
  # Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For and
  # X-Forwarded-Proto are believed; nobody else's are. e.g. [172.18.0.0/16]
  trusted_proxies: []
  # Largest webhook body accepted (bytes).
  webhook_max_bytes: 1048576

"""

#: The profile keys after `source`/`target`, each with its comment.
PROFILE_OPTIONS = """\
    # Secrets never go in this file: write {env: VARIABLE} or {file: path}, e.g.
    #   type: anilist
    #   config:
    #     token: {env: ANILIST_TOKEN}
    # one_way (source -> target) or two_way.
    direction: one_way
    # Fields to sync: all, or a list of status, progress, rating, started_at,
    # finished_at, last_activity_at, repeat_count, notes.
    fields: all
    # count: watched episodes (weighted by the mappings); index: highest episode
    # watched (for libraries that delete what you watched).
    progress_mode: count
    # Allow removing entries / clearing fields on the target.
    allow_deletes: false
    # Let status, progress, dates and rewatch counts move backwards (e.g. progress
    # drops when you un-watch episodes): false, true, or a list of those fields.
    allow_regression: false
    # Refuse a plan that would delete more than this share of the target.
    max_delete_fraction: 0.1
    # Let an inferred status replace a PAUSED/DROPPED you set by hand.
    status_inference_overrides: false
    # Copy individual plays to targets that keep them.
    sync_events: true
    # Title-match fallback when no mapping exists (0-100; empty = off).
    fuzzy_threshold:
    # Give titles without activity the status "planned" where the target has none.
    empty_status: false
    # Two-way conflicts: newest (last writer wins) or priority (see priority:).
    conflict: newest
    priority: []
    # Declarative skip rules, e.g. never touch ratings of titles you dropped:
    # rules:
    #   - name: keep-dropped-ratings
    #     fields: [rating]
    #     when_target_status: [dropped]
    rules: []
    # When `anibridge serve` runs this profile: interval (seconds) or cron,
    # change-feed polling, and webhooks.
    schedule:
      interval: 3600
      poll: 300
      webhooks: true
"""

_LOCAL_SIDES = """\
    # Where your watching happens.
    source:
      name: library
      type: local           # installed providers: `anibridge providers`
      config:
        path: library.sqlite
    # What AniBridge keeps in agreement with it.
    target:
      name: list
      type: local
      config:
        path: list.sqlite
        authorities: [anilist]   # the list is keyed by AniList ids
        rating_scale: [0, 100, 1]
        date_precision: date
"""

#: What `anibridge init` writes when no providers are chosen: two local files.
TEMPLATE = HEAD + "profiles:\n  default:\n" + _LOCAL_SIDES + PROFILE_OPTIONS
