# DiffusionLab — two commands: `make run` and `make test`.
SWIFT      ?= swift
# Debian packages the project needs at build or test time.
APT_PACKAGES := libopenblas-dev libcmark-gfm-dev libcmark-gfm-extensions-dev libjs-katex chromium fonts-noto-cjk libpng-dev zlib1g-dev
BIN        := .build/release/diffusion

.PHONY: run test bench build setup clean pretrained

## setup: install missing Debian packages (as root), or print the exact command to run.
setup:
	@scripts/setup.sh $(APT_PACKAGES)

build: setup
	$(SWIFT) build -c release --product diffusion

## run: set up, build, build the book (every figure computed by the library), then serve it on 127.0.0.1.
## The engine demo is still there: .build/release/diffusion demo
run: build
	$(BIN) book build
	$(BIN) book serve

## test: the full test suite (what CI runs).
test: setup
	$(SWIFT) test

## bench: benchmarks, side by side with PyTorch when it is installed. Timings never go in tests.
bench: build
	$(BIN) bench engine
	$(BIN) bench train --workloads w1,w2 --threads 1,2

## pretrained: retrain the committed image models of pretrained/manifest.json from their configs and seeds, measure them,
## and replace pretrained/<name>.safetensors (EMA weights) and pretrained/<name>.json (time, metrics) of each that meets
## its bounds (exit 1 otherwise). About 40 minutes on 2 cores (the digits models took 32 min while sharing them; the text-to-image UNet adds 7.5 min of CPU).
pretrained: build
	$(BIN) pretrained --folder pretrained --threads 2

clean:
	rm -rf .build out
