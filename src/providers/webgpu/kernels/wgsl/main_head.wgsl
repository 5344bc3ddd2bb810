// The start of a batchable kernel's main: `i`, the invocation's element (element_index comes
// first, as a batch needs), and `index`, its multi-index. The kernel's statements follow; the
// kernel closes the function.
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lane: u32) {
  let i = element_index(group, groups, lane);
  if (i >= param_element_count()) { return; }
  let index = unravel(i);
