/* placeholder: being written */
typedef int af_placeholder_h_introspect;
