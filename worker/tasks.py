"""Celery tasks. Each one is thin: it takes a primary key and calls one service function."""
