"""Hosted mode: many accounts, jobs on a PostgreSQL queue, limits shared by workers.

The single-user default (SQLite + the in-process scheduler) needs none of this. A
hosted deployment keeps the store *and* the job queue (procrastinate) in one
PostgreSQL database: the web service records and enqueues, `anibridge worker`
processes on any number of machines run the jobs, and app-wide rate limits are
drawn from one shared window per service (`anibridge.hosted.limits`).
"""
