"""Scoped access keys (issue #17): tokens the operator mints for automation.

* :mod:`.policy`    ``spec.accessKeys`` of an OIDCProvider: the rules
* :mod:`.model`     one key's record (the AccessKey custom resource) and phases
* :mod:`.crd`       the AccessKey CRD
* :mod:`.signing`   ES256 signing keys in a Secret, rotated with overlap; JWKS
* :mod:`.store`     Kubernetes I/O, each replica's index, the revocation list
* :mod:`.service`   state and background loops (re-list, rotation, GC)
* :mod:`.requests`  request bodies and their checks
* :mod:`.actions`   create / rotate / suspend / unsuspend / revoke
* :mod:`.api`       the HTTP routes, next to discovery on the operator's server
* :mod:`.render`    what a provider's sidecars get: the issuer entry and the poller's settings
"""
