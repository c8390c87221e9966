"""Operator services: ops endpoint, metrics, notifications, scheduler and jobs, logs."""
