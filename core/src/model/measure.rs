//! Weights and volumes with their units.

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Kilograms in one avoirdupois pound (exact, by definition).
const KILOGRAMS_PER_POUND: Decimal = Decimal::from_parts(45_359_237, 0, 0, false, 8);
/// Cubic metres in one cubic foot (exact: 0.3048³).
const CUBIC_METRES_PER_CUBIC_FOOT: Decimal = Decimal::from_parts(2_547_042_816, 6, 0, false, 12);

/// Unit of a [`Weight`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WeightUnit {
    /// Kilograms (X12 `K`).
    Kg,
    /// Pounds (X12 `L`).
    Lb,
}

/// A weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Weight {
    /// The amount, never negative.
    pub value: Decimal,
    /// Its unit.
    pub unit: WeightUnit,
}

impl Weight {
    /// A weight in kilograms.
    #[must_use]
    pub fn kg(value: Decimal) -> Self {
        Self {
            value,
            unit: WeightUnit::Kg,
        }
    }

    /// A weight in pounds.
    #[must_use]
    pub fn lb(value: Decimal) -> Self {
        Self {
            value,
            unit: WeightUnit::Lb,
        }
    }

    /// The same weight in kilograms.
    #[must_use]
    pub fn in_kg(&self) -> Decimal {
        match self.unit {
            WeightUnit::Kg => self.value,
            WeightUnit::Lb => self.value * KILOGRAMS_PER_POUND,
        }
    }

    /// The same weight in pounds.
    #[must_use]
    pub fn in_lb(&self) -> Decimal {
        match self.unit {
            WeightUnit::Kg => self.value / KILOGRAMS_PER_POUND,
            WeightUnit::Lb => self.value,
        }
    }
}

/// Unit of a [`Volume`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VolumeUnit {
    /// Cubic metres (X12 `X`).
    CubicMetre,
    /// Cubic feet (X12 `E`).
    CubicFoot,
}

/// A volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Volume {
    /// The amount, never negative.
    pub value: Decimal,
    /// Its unit.
    pub unit: VolumeUnit,
}

impl Volume {
    /// The same volume in cubic metres.
    #[must_use]
    pub fn in_cubic_metres(&self) -> Decimal {
        match self.unit {
            VolumeUnit::CubicMetre => self.value,
            VolumeUnit::CubicFoot => self.value * CUBIC_METRES_PER_CUBIC_FOOT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_between_pounds_and_kilograms() {
        let pallet = Weight::lb(Decimal::new(1000, 0));
        assert_eq!(pallet.in_kg(), Decimal::new(45_359_237, 5));
        assert_eq!(
            Weight::kg(Decimal::ONE).in_lb().round_dp(4),
            Decimal::new(2_2046, 4)
        );
        assert_eq!(Weight::kg(Decimal::TEN).in_kg(), Decimal::TEN);
    }

    #[test]
    fn converts_cubic_feet_to_cubic_metres() {
        let volume = Volume {
            value: Decimal::new(2000, 0),
            unit: VolumeUnit::CubicFoot,
        };
        assert_eq!(
            volume.in_cubic_metres().round_dp(3),
            Decimal::new(56_634, 3)
        );
    }
}
