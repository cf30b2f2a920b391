"""The cell-therapy domain: the chain of identity (COI) and custody (COC) of a therapy from the apheresis needle
to the patient's vein - orders, ISBT 128 identifiers and labels, custody steps with e-signatures, cold-chain
records, manufacturing slots, the bedside check.

Nothing here is imported by other domains yet; this package uses the biobank (participants' consent, specimens)
and the HLA registry (cord units) only through their published service functions.
"""
