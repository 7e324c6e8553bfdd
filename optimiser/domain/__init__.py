"""The domain: trips, fleets, tariffs and travel times (model.py), the plan and its schedule
(plan.py, schedule.py), problem documents (documents.py) and the published dial-a-ride benchmark
instances (darp.py)."""
