"""Natural-language visualization: context, planner, guard, reduction, output and cache."""
