/** Variable names (the same rule as playbook vars; modules must not import from playbook/). */
export const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
