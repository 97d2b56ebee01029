"""Executing generated code: programs assembled from a problem and a solution (:mod:`.program`), the code
found in model answers (:mod:`.extraction`), a sandbox that fails closed (:mod:`.sandbox`; its isolation
levels :mod:`.isolation`, the in-sandbox :mod:`.launcher`, host-side :mod:`.processes`, per-language
:mod:`.runtimes`), and pass@k (:mod:`.pass_at_k`)."""
