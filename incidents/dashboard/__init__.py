"""The staff dashboard's incident pages (issue 9): the queue, triage of public reports, the
incident workspace, new incidents and in-app notices. Interfaces only: each view asks
incidents.access and calls incidents.services."""
