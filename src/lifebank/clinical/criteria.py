"""Clinical cohort criteria: what the cohort builder may ask of the clinical records (pure value object)."""

from __future__ import annotations

from dataclasses import dataclass

from lifebank.errors import ValidationFailed

COMPARATORS = ("<", "<=", "=", ">=", ">")


@dataclass(frozen=True, slots=True)
class ClinicalCriteria:
    """Every field set must hold (AND). Codes are matched as stored (system + code).

    - diagnosis: a condition code; `descendants` also matches every descendant concept in the loaded
      vocabulary's CONCEPT_ANCESTOR (a diagnosis of "Malignant neoplasm of prostate" finds its subtypes);
    - min_age/max_age: the participant's age (years) at the onset of that diagnosis (birth year based);
    - lab_code + lab_comparator + lab_value: a measurement of that LOINC code with a value that compares so
      (any such measurement of the participant);
    - medication: a medication code (RxNorm) the participant received or was prescribed.
    """

    diagnosis: str | None = None
    diagnosis_system: str | None = None
    descendants: bool = False
    min_age: int | None = None
    max_age: int | None = None
    lab_code: str | None = None
    lab_comparator: str | None = None
    lab_value: float | None = None
    medication: str | None = None

    def __post_init__(self) -> None:
        if self.lab_code and (self.lab_comparator not in COMPARATORS or self.lab_value is None):
            raise ValidationFailed("a lab criterion needs a comparator ({choices}) and a value",
                                   choices=" ".join(COMPARATORS))
        if (self.lab_comparator or self.lab_value is not None) and not self.lab_code:
            raise ValidationFailed("a lab comparator and value need a lab code (LOINC)")
        if (self.min_age is not None or self.max_age is not None) and not self.diagnosis:
            raise ValidationFailed("an age at diagnosis needs a diagnosis code")

    @property
    def empty(self) -> bool:
        return not (self.diagnosis or self.lab_code or self.medication)
