"""Executing generated code: programs assembled from a problem and a solution (:mod:`.program`), the code
found in chat answers (:mod:`.extraction`), a sandbox that fails closed (:mod:`.sandbox`, :mod:`.isolation`,
:mod:`.launcher`), and pass@k (:mod:`.pass_at_k`)."""
