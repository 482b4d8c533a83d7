@_exported import DiffusionEngine
