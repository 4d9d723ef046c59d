"""The scheduler's jobs: the caps catch-up runs every minute, through the job lease like every job."""

from __future__ import annotations

from datetime import timedelta

from llmobserve_app import jobs


def test_caps_are_evaluated_every_minute_under_the_lease(engine) -> None:
    lease = jobs.JobLeaseHolder(engine, holder="test-holder")
    scheduler = jobs.create_scheduler(lease)
    job = scheduler.get_job("evaluate_caps")
    assert job.trigger.interval == timedelta(minutes=1)
    assert (job.func, job.args) == (lease.run, (jobs.evaluate_caps,))  # runs only where the lease is held


def test_interrupted_price_recalculations_are_continued_every_minute_under_the_lease(engine) -> None:
    lease = jobs.JobLeaseHolder(engine, holder="test-holder")
    job = jobs.create_scheduler(lease).get_job("resume_recalculations")
    assert job.trigger.interval == timedelta(minutes=1)
    assert (job.func, job.args) == (lease.run, (jobs.resume_recalculations,))
