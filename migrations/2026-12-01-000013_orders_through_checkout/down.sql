UPDATE roles SET permissions = array_append(permissions, 'orders:create:own')
    WHERE id = '00000000-0000-7000-8000-000000000004'
      AND NOT ('orders:create:own' = ANY (permissions));
