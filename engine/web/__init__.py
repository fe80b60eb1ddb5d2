"""`partnerdx serve`: the web questionnaire for anonymous respondents, the facilitators' dashboard
and reports, and a JSON API, over SQLite (default) or PostgreSQL. See docs/web.md."""
