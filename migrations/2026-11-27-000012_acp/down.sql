UPDATE roles SET permissions = array_remove(permissions, 'acp:checkout');
DROP TABLE acp_allowances;
DROP TABLE acp_sessions;
