"""gliaflow's engine: design documents, validation, the compiler and the run loop."""
from .builder import Network
from .design import SCHEMA_VERSION, Design, load_design
from .errors import DesignError, DivergenceError, GliaflowError, Problem
from .registry import all_types, get_type
from .simulation import Chunk, Simulation, run
from .validate import build_graph, validate

__all__ = ["Network", "SCHEMA_VERSION", "Design", "load_design", "DesignError", "DivergenceError", "GliaflowError",
           "Problem", "all_types", "get_type", "Chunk", "Simulation", "run", "build_graph", "validate"]
__version__ = "0.1.0"
