"""Access requests: from a researcher's request to a shipped, received box (issue 11).

This package will hold the access-request workflow (requests, consent checks, review, fulfilment, shipment
and the HGR record). Its pure rule table is `consent_rules`: whether one participant's consent in force
permits the use a request asks for, in GA4GH Data Use Ontology (DUO) terms, with the reasons and the
conditions the requester must meet.
"""
