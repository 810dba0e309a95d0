"""Neural networks only: tensors (and masks) in, tensors out. No losses, schedules or devices."""
