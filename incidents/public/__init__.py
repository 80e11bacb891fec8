"""Public incident reporting (DOMAIN.md §4): the pages anyone may use without an account.

reports.py holds the services (routing, submission, status look-up, follow-ups), forms.py and
views.py the pages, urls.py their addresses under /report/. The reporter's token lives in
incidents.reporter_token, which the notification code needs too.
"""
