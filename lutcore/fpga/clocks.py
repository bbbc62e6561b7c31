"""Core clock generation: the ECP5 PLL (EHXPLLL) and its divider search."""

from __future__ import annotations

from dataclasses import dataclass

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["PllSettings", "ecp5_pll_settings", "Ecp5Pll"]

# EHXPLLL operating ranges (ECP5 family data sheet), in MHz.
_PFD_MHZ = (3.125, 400.0)
_VCO_MHZ = (400.0, 800.0)
_OUT_MHZ = (3.125, 400.0)


@dataclass(frozen=True)
class PllSettings:
    """Dividers of an EHXPLLL with CLKOP feedback: ``out = in / clki_div * clkfb_div`` and
    ``vco = out * clkop_div``."""

    input_mhz: float
    clki_div: int
    clkfb_div: int
    clkop_div: int

    @property
    def output_mhz(self) -> float:
        return self.input_mhz / self.clki_div * self.clkfb_div

    @property
    def vco_mhz(self) -> float:
        return self.output_mhz * self.clkop_div

    @property
    def clkop_cphase(self) -> int:
        # Coarse phase for a 0 degree output, as Lattice's tools set it.
        return self.clkop_div // 2


def ecp5_pll_settings(input_mhz: float, output_mhz: float, *,
                      tolerance: float = 0.01) -> PllSettings:
    """The dividers that come closest to ``output_mhz`` (VCO nearest 600 MHz among equals).

    Raises ``ValueError`` naming the frequency if it is outside the PLL's range or no
    setting is within ``tolerance`` (relative).
    """
    if not _OUT_MHZ[0] <= output_mhz <= _OUT_MHZ[1]:
        raise ValueError(f"core clock {output_mhz:g} MHz is outside the ECP5 PLL's output range "
                         f"{_OUT_MHZ[0]:g}..{_OUT_MHZ[1]:g} MHz")
    best, best_key = None, None
    for clki_div in range(1, 129):
        pfd = input_mhz / clki_div
        if not _PFD_MHZ[0] <= pfd <= _PFD_MHZ[1]:
            continue
        for clkfb_div in range(1, 81):
            out = pfd * clkfb_div
            for clkop_div in range(1, 129):
                vco = out * clkop_div
                if not _VCO_MHZ[0] <= vco <= _VCO_MHZ[1]:
                    continue
                key = (round(abs(out - output_mhz), 9), abs(vco - 600.0))
                if best_key is None or key < best_key:
                    best, best_key = PllSettings(input_mhz, clki_div, clkfb_div, clkop_div), key
    if best is None or abs(best.output_mhz - output_mhz) > tolerance * output_mhz:
        near = f" (nearest {best.output_mhz:.3f} MHz)" if best else ""
        raise ValueError(f"core clock {output_mhz:g} MHz cannot be made from {input_mhz:g} MHz "
                         f"by the ECP5 PLL{near}")
    return best


class Ecp5Pll(wiring.Component):
    """One EHXPLLL output, fed back internally from CLKOP.

    Parameters
    ----------
    settings : PllSettings

    Members
    -------
    clk_in : In(1)
        Reference clock.
    clk_out : Out(1)
        Generated clock, ``settings.output_mhz``.
    locked : Out(1)
        The PLL has locked (asynchronous).
    """

    def __init__(self, settings: PllSettings):
        if not isinstance(settings, PllSettings):
            raise TypeError(f"settings must be a PllSettings, not {settings!r}")
        self._settings = settings
        super().__init__({"clk_in": In(1), "clk_out": Out(1), "locked": Out(1)})

    @property
    def settings(self) -> PllSettings:
        return self._settings

    def elaborate(self, platform):
        s = self._settings
        m = Module()
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{s.input_mhz:g}",
            a_FREQUENCY_PIN_CLKOP=f"{s.output_mhz:.3f}".rstrip("0").rstrip("."),
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
            a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
            p_CLKOP_ENABLE="ENABLED", p_FEEDBK_PATH="CLKOP",
            p_CLKI_DIV=s.clki_div, p_CLKFB_DIV=s.clkfb_div,
            p_CLKOP_DIV=s.clkop_div, p_CLKOP_CPHASE=s.clkop_cphase, p_CLKOP_FPHASE=0,
            i_RST=0, i_STDBY=0, i_CLKI=self.clk_in, i_CLKFB=self.clk_out,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
            i_PLLWAKESYNC=0, i_ENCLKOP=0,
            o_CLKOP=self.clk_out, o_LOCK=self.locked,
        )
        return m
