//! Execution plan: the steps a run executes, with their dependencies, in topological order.
//!
//! One step per asset; the step key is the asset key joined with `__`. The plan of a run is
//! the job's assets (or the run's asset selection, which must be part of the job), filtered by
//! the run's `step_keys_to_execute`. Dependencies are kept only among steps in the plan: an
//! upstream asset outside the plan is taken as already materialized.

use super::{ExecError, Result};
use crate::defs::Definitions;
use crate::domain::{AssetKey, Run};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStep {
    pub key: String,
    pub asset_key: AssetKey,
    /// Keys of the steps (in this plan) this step waits for.
    pub deps: Vec<String>,
}

/// The steps of a run, upstream first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecutionPlan {
    pub steps: Vec<PlanStep>,
}

impl ExecutionPlan {
    /// The plan of a stored run.
    pub fn for_run(defs: &Definitions, run: &Run) -> Result<Self> {
        Self::build(
            defs,
            &run.job_name,
            run.asset_selection.as_deref(),
            run.step_keys_to_execute.as_deref(),
        )
    }

    /// Builds a plan. An empty `asset_selection` means the whole job (the UI sends `[]`); an
    /// empty `step_keys` is an error.
    pub fn build(
        defs: &Definitions,
        job_name: &str,
        asset_selection: Option<&[AssetKey]>,
        step_keys: Option<&[String]>,
    ) -> Result<Self> {
        let job = defs.job(job_name).ok_or_else(|| ExecError::UnknownJob {
            job: job_name.to_string(),
            location: defs.location_name.clone(),
        })?;
        for k in &job.assets {
            if !defs.assets.contains_key(k) {
                return Err(ExecError::UnknownAsset {
                    job: job.name.clone(),
                    asset: k.to_user_string(),
                });
            }
        }
        let selected: Vec<&AssetKey> = match asset_selection {
            Some(sel) if !sel.is_empty() => {
                for k in sel {
                    if !defs.assets.contains_key(k) {
                        return Err(ExecError::UnknownAsset {
                            job: job.name.clone(),
                            asset: k.to_user_string(),
                        });
                    }
                    if !job.assets.contains(k) {
                        return Err(ExecError::AssetNotInJob {
                            job: job.name.clone(),
                            asset: k.to_user_string(),
                        });
                    }
                }
                job.assets.iter().filter(|k| sel.contains(k)).collect()
            }
            _ => job.assets.iter().collect(),
        };

        // step key -> asset key, keeping the job's order.
        let mut by_step: BTreeMap<String, &AssetKey> = BTreeMap::new();
        let mut order: Vec<String> = Vec::with_capacity(selected.len());
        for k in selected {
            let step = k.to_step_key();
            if let Some(prev) = by_step.get(&step) {
                if *prev == k {
                    continue;
                }
                return Err(ExecError::DuplicateStepKey {
                    job: job.name.clone(),
                    step_key: step,
                    first: prev.to_user_string(),
                    second: k.to_user_string(),
                });
            }
            by_step.insert(step.clone(), k);
            order.push(step);
        }

        if let Some(keys) = step_keys {
            if keys.is_empty() {
                return Err(ExecError::EmptyStepSelection {
                    job: job.name.clone(),
                });
            }
            for k in keys {
                if !by_step.contains_key(k) {
                    return Err(ExecError::UnknownStepKey {
                        job: job.name.clone(),
                        step_key: k.clone(),
                    });
                }
            }
            order.retain(|s| keys.contains(s));
            by_step.retain(|s, _| keys.contains(s));
        }

        let in_plan: HashMap<&AssetKey, &str> =
            by_step.iter().map(|(s, a)| (*a, s.as_str())).collect();
        let steps: Vec<PlanStep> = order
            .iter()
            .filter_map(|s| {
                let asset_key = *by_step.get(s)?;
                let def = defs.assets.get(asset_key)?;
                let mut deps: Vec<String> = Vec::new();
                for d in &def.deps {
                    if let Some(ds) = in_plan.get(d) {
                        if !deps.iter().any(|x| x == ds) {
                            deps.push((*ds).to_string());
                        }
                    }
                }
                Some(PlanStep {
                    key: s.clone(),
                    asset_key: asset_key.clone(),
                    deps,
                })
            })
            .collect();
        topo_sort(&job.name, steps).map(|steps| ExecutionPlan { steps })
    }

    pub fn step(&self, key: &str) -> Option<&PlanStep> {
        self.steps.iter().find(|s| s.key == key)
    }

    pub fn step_keys(&self) -> Vec<String> {
        self.steps.iter().map(|s| s.key.clone()).collect()
    }

    pub fn asset_keys(&self) -> Vec<AssetKey> {
        self.steps.iter().map(|s| s.asset_key.clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }
}

/// Kahn's algorithm; among ready steps the input order wins, so the result is deterministic.
fn topo_sort(job: &str, steps: Vec<PlanStep>) -> Result<Vec<PlanStep>> {
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.key.as_str(), i))
        .collect();
    let mut indegree: Vec<usize> = steps.iter().map(|s| s.deps.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, s) in steps.iter().enumerate() {
        for d in &s.deps {
            if let Some(&j) = index.get(d.as_str()) {
                dependents[j].push(i);
            }
        }
    }
    let mut ready: VecDeque<usize> = (0..steps.len()).filter(|&i| indegree[i] == 0).collect();
    let mut out_idx: Vec<usize> = Vec::with_capacity(steps.len());
    while let Some(i) = ready.pop_front() {
        out_idx.push(i);
        for &j in &dependents[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push_back(j);
            }
        }
    }
    if out_idx.len() != steps.len() {
        let stuck: Vec<String> = (0..steps.len())
            .filter(|i| indegree[*i] > 0)
            .map(|i| steps[i].key.clone())
            .collect();
        return Err(ExecError::Cycle {
            job: job.to_string(),
            steps: stuck,
        });
    }
    let mut slots: Vec<Option<PlanStep>> = steps.into_iter().map(Some).collect();
    Ok(out_idx
        .into_iter()
        .filter_map(|i| slots[i].take())
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::defs::context::StepContext;
    use crate::defs::{AssetDef, JobDef, MaterializeResult, Registry};

    fn key(s: &str) -> AssetKey {
        AssetKey::from_user_string(s)
    }

    fn noop(_: &mut StepContext) -> anyhow::Result<MaterializeResult> {
        Ok(MaterializeResult::new())
    }

    fn defs(assets: &[(&str, &[&str])]) -> Definitions {
        let mut map = BTreeMap::new();
        for (k, deps) in assets {
            map.insert(
                key(k),
                AssetDef::new(key(k), noop).deps(deps.iter().map(|d| key(d))),
            );
        }
        let mut jobs = BTreeMap::new();
        jobs.insert(
            "diamond".to_string(),
            JobDef {
                name: "diamond".into(),
                description: None,
                assets: vec![key("d"), key("c"), key("b"), key("a")],
                tags: BTreeMap::new(),
                max_concurrent_steps: None,
                source: None,
            },
        );
        Definitions {
            location_name: "loc".into(),
            source_file: None,
            assets: map,
            jobs,
            schedules: BTreeMap::new(),
            sensors: BTreeMap::new(),
            resources: BTreeMap::new(),
            registry: Registry::default(),
        }
    }

    fn diamond() -> Definitions {
        defs(&[
            ("a", &[]),
            ("b", &["a"]),
            ("c", &["a"]),
            ("d", &["b", "c"]),
            ("x/y", &[]),
        ])
    }

    #[test]
    fn diamond_is_topologically_ordered() {
        let p = ExecutionPlan::build(&diamond(), "diamond", None, None).unwrap();
        assert_eq!(p.step_keys(), vec!["a", "c", "b", "d"]);
        assert_eq!(p.step("d").unwrap().deps, vec!["b", "c"]);
        let all =
            ExecutionPlan::build(&diamond(), crate::defs::ASSET_JOB_NAME, None, None).unwrap();
        assert_eq!(all.len(), 5);
        assert!(all.step("x__y").is_some());
    }

    #[test]
    fn selection_and_step_keys_drop_outside_deps() {
        let d = diamond();
        let p = ExecutionPlan::build(&d, "diamond", Some(&[key("b"), key("d")]), None).unwrap();
        assert_eq!(p.step_keys(), vec!["b", "d"]);
        assert!(p.step("b").unwrap().deps.is_empty());
        assert_eq!(p.step("d").unwrap().deps, vec!["b"]);
        let p = ExecutionPlan::build(&d, "diamond", None, Some(&["d".into(), "a".into()])).unwrap();
        assert_eq!(p.step_keys(), vec!["d", "a"]);
        assert!(p.step("d").unwrap().deps.is_empty());
        let p = ExecutionPlan::build(&d, "diamond", Some(&[]), None).unwrap();
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn errors_name_the_problem() {
        let d = diamond();
        let e = ExecutionPlan::build(&d, "nope", None, None).unwrap_err();
        assert!(matches!(e, ExecError::UnknownJob { .. }), "{e}");
        assert_eq!(e.to_string(), "job `nope` not found in code location `loc`");
        let e = ExecutionPlan::build(&d, "diamond", Some(&[key("zz")]), None).unwrap_err();
        assert!(matches!(e, ExecError::UnknownAsset { .. }), "{e}");
        let e = ExecutionPlan::build(&d, "diamond", Some(&[key("x/y")]), None).unwrap_err();
        assert!(matches!(e, ExecError::AssetNotInJob { .. }), "{e}");
        let e = ExecutionPlan::build(&d, "diamond", None, Some(&["q".into()])).unwrap_err();
        assert!(
            matches!(e, ExecError::UnknownStepKey { ref step_key, .. } if step_key == "q"),
            "{e}"
        );
        let e = ExecutionPlan::build(&d, "diamond", None, Some(&[])).unwrap_err();
        assert!(matches!(e, ExecError::EmptyStepSelection { .. }), "{e}");
    }

    #[test]
    fn cycles_are_reported() {
        let d = defs(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]);
        let e = ExecutionPlan::build(&d, crate::defs::ASSET_JOB_NAME, None, None).unwrap_err();
        match e {
            ExecError::Cycle { steps, .. } => assert_eq!(steps, vec!["a", "b", "c"]),
            other => panic!("{other}"),
        }
    }
}
